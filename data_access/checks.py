"""Checks on text that people and files give us: every refusal is a sentence naming what is wrong."""

from __future__ import annotations

import re
import unicodedata

from data_access.errors import InvalidAction

_ALLOWED_IN_MULTILINE = {"\n", "\t"}


def control_characters(value: str, *, multiline: bool = False) -> list[str]:
    """The control characters in `value` (NUL, escape, bidi overrides...), named as U+XXXX."""
    allowed = _ALLOWED_IN_MULTILINE if multiline else set()
    found = {
        char
        for char in value
        if char not in allowed and (unicodedata.category(char) in ("Cc", "Cf", "Cs") and char != "\u200d")
    }
    return sorted(f"U+{ord(char):04X}" for char in found)


def clean_text(value: str | None, what: str, max_length: int, *, multiline: bool = False) -> str | None:
    """Trimmed text, None when empty; refused when too long or carrying control characters."""
    if value is None:
        return None
    text = value.replace("\r\n", "\n").strip() if multiline else value.strip()
    if not text:
        return None
    bad = control_characters(text, multiline=multiline)
    if bad:
        raise InvalidAction(
            f"{what} contains control characters ({', '.join(bad)}); remove them and try again."
        )
    if len(text) > max_length:
        raise InvalidAction(f"{what} is longer than {max_length} characters.")
    return text


_DOMAIN_LABEL = r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?"
EMAIL = re.compile(rf"[^@\s<>()\[\],;:\\\"\x00-\x1f\x7f]+@{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+")
"""A local part without spaces, control characters or the characters that end an address in a header; a domain
of dotted labels of letters, digits and inner hyphens (international names too)."""
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MAX_QUANTITY = 1_000_000
"""The most seats or units one subscription may count (far below the database column's 2,147,483,647)."""

# ISO 4217 currencies in use (the 2025 list), without funds, precious metals, bond units, SDRs and testing codes.
CURRENCIES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
    CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD
    HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD
    MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
    PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY
    TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905 - laid out like the standard's table, to be checked against it
)

# ISO 3166-1 alpha-2, and XK (Kosovo: user-assigned in ISO 3166, but Partner Center and the EU use it).
COUNTRIES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY
    BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK
    FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR
    IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK
    ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK
    """.split()  # noqa: SIM905
)


def valid_email(value: str) -> bool:
    """something@domain.tld: no spaces, one @, a domain name after it (not `contoso.example?=`)."""
    return bool(EMAIL.fullmatch(value))


def currency_code(value: str) -> str | None:
    """The ISO 4217 code for `value` (any case), or None when it is not a currency in use."""
    code = value.strip().upper()
    return code if value.isascii() and code in CURRENCIES else None


def country_code(value: str) -> str | None:
    """The ISO 3166 alpha-2 code for `value` (any case), or None when it is not a country code."""
    code = value.strip().upper()
    return code if value.isascii() and code in COUNTRIES else None


def tenant_id(value: str) -> str | None:
    """A Microsoft tenant id (a GUID, 8-4-4-4-12 hexadecimal digits) in lower case, or None when it is not one."""
    return value.lower() if GUID.fullmatch(value) else None
