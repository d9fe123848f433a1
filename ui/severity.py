"""Severity shown in colour, in the order of `Severity` (critical red, moderate amber, minimal grey), the same on
every chart and badge."""

from data_access.documents.exports import plain
from data_access.enums import Severity

SEVERITY_ORDER: list[str] = Severity.values()
SEVERITY_COLOURS: dict[str, str] = {
    Severity.CRITICAL.value: "#C50F1F",
    Severity.MODERATE.value: "#EAA300",
    Severity.MINIMAL.value: "#8A8886",
}
_BADGE_COLOURS = {
    Severity.CRITICAL.value: "red",
    Severity.MODERATE.value: "orange",
    Severity.MINIMAL.value: "gray",
}


def severity_badge(severity: str) -> str:
    """Markdown for a severity as a coloured badge; a value outside `Severity` stays plain text."""
    colour = _BADGE_COLOURS.get(severity)
    return f":{colour}-badge[{severity}]" if colour else plain(severity)
