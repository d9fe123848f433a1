"""Text from the data, in a real browser: a customer name and a note written as Markdown and HTML are shown as the
characters they are, and the browser fetches no image, follows no link and draws no markup made from them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from data_access import clock
from data_access.actions import collections
from tests.e2e.helpers import read, screenshots, settle, sign_in, wait_for_heading
from tests.support import factories
from tests.support.actors import BILLING
from tests.support.servers import Server

pytestmark = pytest.mark.browser

CUSTOMER = "C-HOSTILE"
HOSTILE = (
    "![x](http://127.0.0.1:9/t.png) **bold** <img src=x> [a](javascript:alert(1)) :red[x] $x$ "
    ":material/home: www.example.com"
)
shot = screenshots("plain-text")


def write_hostile_customer() -> None:
    factories.customer(CUSTOMER, name=HOSTILE)
    factories.invoice(CUSTOMER, "HOSTILE-1", issued=clock.today() - timedelta(days=75), cents=120_000)
    collections.add_note(BILLING, customer_id=CUSTOMER, notes=HOSTILE)


def test_a_hostile_name_and_note_show_as_text_on_the_customers_page(server: Server, page: Any) -> None:
    read(server, write_hostile_customer)
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(f"{server.url}/customers")
    sign_in(page, "billing", "billing-demo")
    wait_for_heading(page, "Customers")
    search = page.get_by_role("textbox", name="Search customers")
    search.fill(CUSTOMER)
    search.press("Enter")
    page.locator('[data-testid="stHeading"]').filter(has_text="bold").first.wait_for()
    page.get_by_text("Last collections contact").first.wait_for()
    settle(page)
    shot(page, "customers")
    found = page.evaluate(
        """() => ({
            headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
            markdown: [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')].map(m => m.textContent),
            images: [...document.querySelectorAll('img')].map(i => i.getAttribute('src')),
            links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
            emphasis: [...document.querySelectorAll('strong, em, del, code')].map(e => e.textContent),
            drawn: document.querySelectorAll('.katex, .stMarkdownColoredText, [aria-label="home icon"]').length,
        })"""
    )
    literal = [text.replace("\u2060", "") for text in found["headings"] + found["markdown"]]
    assert HOSTILE in [text.strip() for text in literal], found["headings"]
    assert any(text.endswith(HOSTILE) for text in literal), "the note is shown as it was written"
    assert not [src for src in found["images"] if src in ("x", "http://127.0.0.1:9/t.png")], found["images"]
    outward = [href for href in found["links"] if not href.startswith("#")]  # a heading's own anchor stays
    assert not [href for href in outward if "127.0.0.1:9" in href or "javascript" in href], outward
    assert not [href for href in outward if "example.com" in href], outward
    assert "bold" not in found["emphasis"] and "x" not in found["emphasis"], found["emphasis"]
    assert found["drawn"] == 0
    assert not [url for url in fetched if "127.0.0.1:9" in url], fetched
