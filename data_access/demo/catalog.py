"""What the demo partner sells, and to whom: markets, price list, what each company size buys, names."""

from __future__ import annotations

from dataclasses import dataclass

from data_access.enums import SubscriptionStatus


@dataclass(frozen=True)
class Market:
    """A country's billing currency, naming habits, share of customers and price level against US dollars."""

    currency: str
    domain_suffix: str
    company_suffixes: tuple[str, ...]
    weight: int
    price_percent: int
    usd_percent: int


MARKETS: dict[str, Market] = {
    "US": Market("USD", "com", ("Inc.", "LLC", "Corp."), 45, 100, 100),
    "GB": Market("GBP", "co.uk", ("Ltd", "plc", "LLP"), 15, 80, 127),
    "DE": Market("EUR", "de", ("GmbH", "AG", "KG"), 10, 92, 108),
    "NL": Market("EUR", "nl", ("B.V.", "N.V."), 7, 92, 108),
    "FR": Market("EUR", "fr", ("SAS", "SARL", "SA"), 7, 92, 108),
    "AU": Market("AUD", "com.au", ("Pty Ltd",), 8, 152, 66),
    "CA": Market("CAD", "ca", ("Inc.", "Ltd."), 8, 137, 73),
}


@dataclass(frozen=True)
class Sku:
    """A product on the price list: US list price per unit and month, and how its quantity follows company size."""

    product: str
    name: str
    usd_cents: int
    sizing: str


SKUS: dict[str, Sku] = {
    sku.name: sku
    for sku in (
        Sku("Microsoft 365", "Microsoft 365 Business Basic", 600, "suite"),
        Sku("Microsoft 365", "Microsoft 365 Business Standard", 1_250, "suite"),
        Sku("Microsoft 365", "Microsoft 365 Business Premium", 2_200, "suite"),
        Sku("Microsoft 365", "Microsoft 365 E3", 3_600, "suite"),
        Sku("Microsoft 365", "Microsoft 365 E5", 5_700, "suite"),
        Sku("Azure plan", "Azure plan", 0, "usage"),
        Sku("Dynamics 365", "Dynamics 365 Sales Enterprise", 10_500, "team"),
        Sku("Dynamics 365", "Dynamics 365 Business Central Essentials", 8_000, "team"),
        Sku("Microsoft Teams", "Microsoft Teams Essentials", 400, "suite"),
        Sku("Microsoft Teams", "Teams Phone Standard", 1_000, "addon"),
        Sku("Microsoft Teams", "Teams Rooms Pro", 4_000, "rooms"),
    )
}
# Business plans stop at 300 seats, so larger companies buy Enterprise suites.
SUITES_BY_SIZE: dict[str, dict[str, int]] = {
    "small": {
        "Microsoft 365 Business Basic": 35,
        "Microsoft 365 Business Standard": 40,
        "Microsoft 365 Business Premium": 25,
    },
    "medium": {
        "Microsoft 365 Business Standard": 30,
        "Microsoft 365 Business Premium": 45,
        "Microsoft 365 E3": 25,
    },
    "large": {"Microsoft 365 E3": 60, "Microsoft 365 E5": 40},
}
SEATS_BY_SIZE: dict[str, tuple[int, int, int]] = {
    "small": (5, 50, 50),
    "medium": (51, 300, 38),
    "large": (301, 500, 12),
}
AZURE_USD_CENTS_BY_SIZE: dict[str, tuple[int, int]] = {
    "small": (20_000, 200_000),
    "medium": (100_000, 800_000),
    "large": (400_000, 2_000_000),
}
ADD_ONS: dict[str, int] = {
    "Azure plan": 30,
    "Teams Phone Standard": 20,
    "Teams Rooms Pro": 10,
    "Dynamics 365 Sales Enterprise": 8,
    "Dynamics 365 Business Central Essentials": 10,
    "Microsoft Teams Essentials": 4,
    "Microsoft 365 E5": 8,
    "Microsoft 365 Business Premium": 5,
}
ADDITIONAL_STATUSES: dict[SubscriptionStatus, int] = {
    SubscriptionStatus.ACTIVE: 78,
    SubscriptionStatus.PENDING: 6,
    SubscriptionStatus.EXPIRED: 8,
    SubscriptionStatus.DELETED: 6,
    SubscriptionStatus.DISABLED: 2,
}

# fmt: off
COMPANY_WORDS = (
    "Northwind", "Blue Harbor", "Summit", "Riverbend", "Alder", "Crescent", "Ironbridge", "Maple", "Granite",
    "Lakeside", "Silverline", "Oakridge", "Harbor Point", "Brightwater", "Redwood", "Kestrel", "Meridian",
    "Copperfield", "Evergreen", "Falcon", "Highgate", "Juniper", "Lighthouse", "Moorland", "Pinecrest",
    "Quayside", "Stonebridge", "Thornbury", "Westbrook", "Wildflower", "Beacon", "Cobalt", "Foxglove",
    "Larkspur", "Orchard", "Sterling", "Trident", "Vantage", "Willow", "Zephyr",
)
COMPANY_TRADES = (
    "Logistics", "Dental", "Legal", "Engineering", "Foods", "Consulting", "Architects", "Accounting", "Health",
    "Manufacturing", "Properties", "Media", "Travel", "Energy", "Pharma", "Retail", "Construction", "Insurance",
    "Veterinary", "Analytics", "Freight", "Hospitality", "Education", "Robotics", "Design",
)
FIRST_NAMES = (
    "Anna", "Ben", "Chloe", "David", "Elena", "Felix", "Grace", "Hannah", "Ivan", "Julia", "Kai", "Laura",
    "Marco", "Nina", "Oliver", "Paula", "Rafael", "Sofia", "Tom", "Vera", "Wei", "Yusuf", "Zoe", "Lars",
)
LAST_NAMES = (
    "Adams", "Becker", "Carter", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Jansen", "Kowalski",
    "Lambert", "Martin", "Nguyen", "Okafor", "Patel", "Quinn", "Reyes", "Schmidt", "Taylor", "Visser",
    "Walsh", "Young", "Moreau", "Murphy",
)
# fmt: on


def local_price(usd_cents: int, market: Market) -> int:
    """A US list price in the market's currency, rounded to ten cents."""
    return (usd_cents * market.price_percent + 500) // 1000 * 10
