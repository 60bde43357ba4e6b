"""Path expressions: the vendor guide's examples, documented variants, and never raising."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lpexamples import chat_all_sdes, chat_surveys, customer_info_sdes, messaging

from lesync.mapping.paths import PathSyntaxError, compile_path, parse_path


def get(path: str, record: object) -> object:
    return compile_path(path)(record)


# --------------------------------------------------------------------------------------------
# The vendor guide's addresses against LivePerson's documented examples


def test_info_and_campaign_and_visitor_info_paths():
    record = chat_surveys()
    assert get("info.startTime", record) == "2017-02-01 17:11:59.916+0000"
    assert get("campaign.goalName", record) == "Interact with visitors"
    assert get("visitorInfo.browser", record) == "Chrome 49.0.2623.87"
    assert get("info.accountId", record) == "qa35931557"


def test_survey_question_by_display_name():
    record = chat_surveys()
    assert get("surveys.preChat[displayName=Email].value", record) == "irena@gmail.com"
    assert get("surveys.postChat[displayName=How was the visit ?].value", record) == "It was good"
    assert get("surveys.postChat[displayName=Will you recommentd us ?].values[0]", record) == "Yes"


def test_filter_value_with_question_mark_dot_and_spaces():
    record = {
        "surveys": {
            "preChat": [
                {"displayName": "Name", "value": "Irena"},
                {"displayName": "What is your Account Number?", "value": "AC-1"},
                {"displayName": "e.g. your v2.0 id [optional]", "value": "v2"},
            ]
        }
    }
    assert get("surveys.preChat[displayName=What is your Account Number?].value", record) == "AC-1"
    assert get("surveys.preChat[displayName=e.g. your v2.0 id [optional]].value", record) == "v2"


def test_filter_compares_trimmed_and_case_insensitively():
    record = {"items": [{"k": "Pre-Chat Survey ", "v": 1}, {"k": 3, "v": 2}, {"k": True, "v": 3}]}
    assert get("items[k=pre-chat survey].v", record) == 1
    assert get("items[k=3].v", record) == 2
    assert get("items[k=true].v", record) == 3


def test_filter_returns_first_match():
    record = chat_surveys()  # two PURCHASE events; the first one wins
    assert get("sdes.events[sdeType=PURCHASE].serverTimeStamp", record) == "1485969113673"


def test_customer_info_sde_with_sde_type():
    record = messaging()
    path = "sdes.events[sdeType=CUSTOMER_INFO].customerInfo.customerInfo.customerId"
    assert get(path, record) == "12345678"


def test_customer_info_sde_without_sde_type_resolves_by_container():
    path = "sdes.events[sdeType=CUSTOMER_INFO].customerInfo.customerInfo.customerType"
    assert get(path, customer_info_sdes()) == "vip"
    assert get(path, chat_all_sdes()) == "vip"
    assert (
        get("sdes.events[sdeType=CUSTOMER_INFO].customerInfo.customerInfo.Currency", customer_info_sdes())
        == "USD"
    )


def test_every_sde_container_of_the_all_sdes_example():
    record = chat_all_sdes()
    marketing = "sdes.events[sdeType=MARKETING_CAMPAIGN_INFO].marketingCampaignInfo.marketingCampaignInfo"
    expected = {
        f"{marketing}.affiliate": "Yahoo",
        "sdes.events[sdeType=CART_STATUS].cartStatus.total": "11.7",
        "sdes.events[sdeType=LEAD].lead.lead.topic": "luxury car test drive 2015",
        "sdes.events[sdeType=PURCHASE].purchase.orderId": "DRV1534XC",
        "sdes.events[sdeType=PURCHASE].purchase.cart.products[0].product.name": "antivirus pro plan",
        "sdes.events[sdeType=SERVICE_ACTIVITY].serviceActivity.serviceActivity.topic": "order checkbook",
        "sdes.events[sdeType=VIEWED_PRODUCT].viewedProduct.products[0].product.name": "red high heel shoe",
        "sdes.events[sdeType=VISITOR_ERROR].visitorError.message.string": "Expiration date missing",
        "sdes.events[sdeType=PERSONAL_INFO].personalInfo.contacts[0].personalContact.email": (
            "myname@example.com"
        ),
    }
    for path, value in expected.items():
        assert get(path, record) == value, path


def test_personal_info_flat_and_double_nested_both_resolve():
    flat, nested = chat_all_sdes(), messaging()
    for path in (
        "sdes.events[sdeType=PERSONAL_INFO].personalInfo.personalInfo.name",
        "sdes.events[sdeType=PERSONAL_INFO].personalInfo.name",
    ):
        assert get(path, flat) == "ELI", path
        assert get(path, nested) == "dummyName", path
    contact = "sdes.events[sdeType=PERSONAL_INFO].personalInfo.contacts[0].personalContact.phone"
    assert get(contact, nested) == "12345678"


def test_view_product_and_viewed_product_are_aliases():
    record = {"sdes": {"events": [{"viewedProduct": {"products": [{"product": {"name": "hat"}}]}}]}}
    assert get("sdes.events.viewProduct.products[0].product.name", record) == "hat"
    assert get("sdes.events.viewedProduct.products[0].product.name", chat_all_sdes()) == "red high heel shoe"


def test_index_is_zero_based_and_negative_counts_from_the_end():
    record = chat_surveys()
    assert get("transcript.lines[0].text", record).startswith("Thank you for choosing")
    assert get("transcript.lines[2].text", record) == "hello"
    assert get("transcript.lines[-1].text", record) == "Thank you for chatting with us."
    assert get("transcript.lines[99].text", record) is None


def test_name_on_a_list_applies_to_the_first_element_having_it():
    record = messaging()
    assert get("consumerParticipants.firstName", record) == "Visitor"
    assert get("sdes.events.personalInfo.personalInfo.surname", record) == "dummySurename"


def test_dotted_filter_key_looks_inside_elements():
    record = messaging()
    assert get("messageRecords[messageData.msg.text=I love your service].seq", record) == 2


def test_missing_and_wrong_types_give_none():
    record = chat_surveys()
    assert get("info.nope.deeper", record) is None
    assert get("info.startTime.deeper", record) is None
    assert get("info[0]", record) is None
    assert get("surveys.preChat[displayName=Nope].value", record) is None
    assert get("info.duration", None) is None
    assert get("a.b", [1, "x", None]) is None


# --------------------------------------------------------------------------------------------
# Syntax errors say where


@pytest.mark.parametrize(
    ("path", "position", "expected"),
    [
        ("surveys.preChat[displayName=Name.value", 38, "expected ']'"),
        ("info..startTime", 5, "expected a field name"),
        ("info.", 5, "expected a field name"),
        ("", 0, "empty"),
        ("a[]", 2, "expected an index"),
        ("a[x]", 2, "expected an integer index"),
        ("a[=b]", 2, "expected a key"),
        ("a]b", 1, "unexpected ']'"),
        ("a[1]b", 4, "expected '.' or '['"),
    ],
)
def test_syntax_errors_carry_the_position(path, position, expected):
    with pytest.raises(PathSyntaxError) as caught:
        compile_path(path)
    assert caught.value.position == position
    assert expected in str(caught.value)
    assert f"position {position}" in str(caught.value)


def test_parse_tokens():
    assert parse_path("sdes.events[sdeType=X].a[2]") == (
        ("key", "sdes"),
        ("key", "events"),
        ("filter", (("sdeType",), "X")),
        ("key", "a"),
        ("index", 2),
    )


# --------------------------------------------------------------------------------------------
# Never raises on any JSON and any path (beyond a PathSyntaxError while compiling)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["a", "b", "sdeType", "personalInfo", "viewProduct", "0", "x y"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)
path_text = st.text(alphabet="ab.[]=0-1 ?xsdeTypPEROSNAL_I", max_size=25)


@settings(max_examples=400, deadline=None)
@given(path=path_text, record=json_values)
def test_getter_never_raises(path, record):
    try:
        getter = compile_path(path)
    except PathSyntaxError as error:
        assert 0 <= error.position <= len(path)
        return
    getter(record)  # must not raise, whatever the shapes


@settings(max_examples=200, deadline=None)
@given(record=json_values)
def test_known_paths_never_raise_on_arbitrary_json(record):
    for path in (
        "a.b[0].a",
        "a[sdeType=PERSONAL_INFO].personalInfo.personalInfo.a",
        "b[-1][a=1].x y",
        "viewedProduct.a",
        "a.a.a",
    ):
        compile_path(path)(record)
