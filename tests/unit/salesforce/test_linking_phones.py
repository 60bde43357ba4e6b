"""Phone numbers in the formats orgs and visitors write them reduce to one comparable form."""

from __future__ import annotations

import pytest

from lesync.salesforce.phones import national_number, normalise_phone, search_forms


@pytest.mark.parametrize(
    "written",
    [
        "(212) 788-8877",  # Salesforce's UI format for a US/Canada locale
        "212-788-8877",  # as typed (Lightning keeps it)
        "212.788.8877",
        "2127888877",
        "+1 212 788 8877",
        "+1 (212) 788-8877",
        "+12127888877",
        "1-212-788-8877",
        "001 212 788 8877",  # international prefix from Europe
        "011 1 212 788 8877",  # international prefix from North America
        "(212) 788-8877 x204",  # extensions are dropped
        "212-788-8877 ext. 204",
    ],
)
def test_every_way_of_writing_one_us_number_gives_the_same_digits(written):
    assert normalise_phone(written, "1") == "12127888877"


def test_other_countries_drop_the_trunk_zero_and_add_their_code():
    assert normalise_phone("020 7946 0958", "44") == "442079460958"
    assert normalise_phone("+44 20 7946 0958", "1") == "442079460958"
    assert normalise_phone("0044 20 7946 0958", "1") == "442079460958"
    assert normalise_phone("030 1234567", "49") == "49301234567"
    assert normalise_phone("49 30 1234567", "49") == "49301234567"  # code written without "+"


@pytest.mark.parametrize("junk", [None, "", "n/a", "12345", "+1 555", "1234567890123456789"])
def test_too_short_or_too_long_is_not_a_phone(junk):
    assert normalise_phone(junk, "1") is None


def test_search_forms_cover_the_digits_with_and_without_code_and_the_groupings():
    forms = search_forms("+1 212-788-8877", "12127888877", "1")
    assert forms == ["12127888877", "2127888877", '"212 788 8877"']  # "1 212 788 8877" adds nothing
    assert search_forms("+44 20 7946 0958", "442079460958", "1") == ["442079460958", '"44 20 7946 0958"']
    assert search_forms("+442079460958", "442079460958", "1") == ["442079460958"]
    assert national_number("442079460958", "1") is None
