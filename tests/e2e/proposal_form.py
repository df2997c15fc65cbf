"""Filling the resident's proposal form (`/usulan/baru`) in a browser test, field by field as a person does.

`fill_proposal_form(page, title=..., ...)` fills every field: the values given, and for the rest those of
`PROPOSAL`, a complete proposal the server accepts. Values are as typed (strings); a value a field cannot
take is the test's to give on purpose."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

PROPOSAL = {
    "kelurahan": "32.75.03.1003",
    "rw": "4",
    "rt": "1",
    "address": "Gang Melati, depan pos ronda",
    "kind": "fisik",
    "bidang": "infrastruktur",
    "title": "Lampu jalan gang melati mati",
    "problem": "Lampu jalan mati sejak bulan lalu, gang gelap pada malam hari",
    "solution": "Penggantian tiga lampu jalan tenaga surya",
    "beneficiaries": "120",
    "volume": "3",
    "unit": "unit",
    "estimated_cost": "15 juta",
    "priority_program": "",
    "proposer_name": "Rahmat Hidayat",
    "proposer_phone": "0812-7777-1212",
}
"""Every field of the form, in the form's order, with what a resident types or chooses."""

_CHOSEN = ("kelurahan", "bidang", "priority_program")
"""Fields that are a <select> (chosen by value); `kind` is a radio group; the rest are typed."""


def fill_proposal_form(page: Page, **values: str) -> None:
    """Fill the proposal form on `page` (already open) with `values` over `PROPOSAL`; not sent."""
    unknown = set(values) - set(PROPOSAL)
    if unknown:
        raise TypeError(f"the proposal form has no field {sorted(unknown)}")
    for field, value in {**PROPOSAL, **values}.items():
        if field == "kind":
            page.check(f"input[name=kind][value={value}]")
        elif field in _CHOSEN:
            page.select_option(f"#{field}", value)
        else:
            page.fill(f"#{field}", value)
