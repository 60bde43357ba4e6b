"""Engagement attributes (SDEs) in every documented container shape.

Each event holds one container key plus, usually, ``sdeType``, ``serverTimeStamp`` and
``isAuthenticated``; ``sdeType`` is sometimes missing, so a client must resolve the type by
container key too. ``personalInfo`` comes both flat and double-nested, ``viewedProduct`` also as
``viewProduct``, ``visitorError`` also wrapped in ``formFillingError``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

Person = dict[str, str]
Event = dict[str, Any]

LONG_SDE_VALUE_CHARS = 50_000


def _stamps(ts: int) -> dict[str, str]:
    return {"serverTimeStamp": str(ts), "originalTimeStamp": str(ts - 1234)}


def _products(rnd: random.Random) -> list[dict[str, Any]]:
    names = ["antivirus pro plan", "red high heel shoe", "Café ☕ beans 1kg", "כיסא משרדי", "USB-C cable"]
    return [
        {
            "quantity": str(rnd.randint(1, 4)),
            "product": {
                "name": rnd.choice(names),
                "category": rnd.choice(["software", "women shoes", "food", "furniture"]),
                "sku": f"xyz{rnd.randint(100, 999)}",
                "price": f"{rnd.uniform(2, 500):.2f}",
            },
        }
        for _ in range(rnd.randint(1, 3))
    ]


def cart_status(rnd: random.Random, ts: int, person: Person) -> Event:
    products = _products(rnd)
    body = {**_stamps(ts), "total": f"{rnd.uniform(5, 900):.2f}", "numItems": str(len(products))}
    return {"cartStatus": {**body, "products": products}, "sdeType": "CART_STATUS"}


def customer_info(rnd: random.Random, ts: int, person: Person) -> Event:
    info = {
        "customerStatus": rnd.choice(["active", "cancelled", "suspended"]),
        "customerType": rnd.choice(["vip", "regular", "new"]),
        "balance": f"{rnd.uniform(-500, 2000):.2f}",
        "Currency": "USD",
        "customerId": person["customer_id"],
        "socialId": rnd.randint(1000, 9999),
        "imei": None,
        "userName": person["email"],
        "companyBranch": rnd.choice(["North", "South", "Zürich"]),
        "lastPaymentDate": {"year": "2024", "month": str(rnd.randint(1, 12)), "day": str(rnd.randint(1, 28))},
        "registrationDate": {"year": "2019", "month": "5", "day": "23"},
    }
    return {"customerInfo": {**_stamps(ts), "customerInfo": info}, "sdeType": "CUSTOMER_INFO"}


def lead(rnd: random.Random, ts: int, person: Person) -> Event:
    topic = rnd.choice(["luxury car test drive", "mortgage refinance", "solar panels ☀️"])
    body = {
        "topic": topic,
        "value": f"{rnd.uniform(10, 5000):.2f}",
        "leadId": f"L{rnd.randint(10000, 99999)}",
    }
    return {"lead": {"lead": body, **_stamps(ts)}, "sdeType": "LEAD"}


def marketing_campaign_info(rnd: random.Random, ts: int, person: Person) -> Event:
    info = {
        "originatingChannel": str(rnd.randint(0, 4)),
        "affiliate": rnd.choice(["Yahoo", "Google Ads", "Newsletter", "Facebook"]),
        "campaignId": rnd.choice(["US coupon campaign", "EMEA spring", "retarget-42"]),
    }
    return {
        "marketingCampaignInfo": {**_stamps(ts), "marketingCampaignInfo": info},
        "sdeType": "MARKETING_CAMPAIGN_INFO",
    }


def _contacts(person: Person) -> list[dict[str, Any]]:
    address = {"country": "Israel", "region": "Center", "zipCode": 12345}
    return [{"personalContact": {"email": person["email"], "phone": person["phone"], "address": address}}]


def personal_info_flat(rnd: random.Random, ts: int, person: Person) -> Event:
    body = {
        **_stamps(ts),
        "name": person["first"],
        "surname": person["last"],
        "gender": rnd.choice(["MALE", "FEMALE", "OTHER"]),
        "company": person["company"],
        "customerAge": {"customerAgeInYears": "35.0", "customerYearOfBirth": "1989"},
        "contacts": _contacts(person),
    }
    return {"personalInfo": body, "sdeType": "PERSONAL_INFO"}


def personal_info_nested(rnd: random.Random, ts: int, person: Person) -> Event:
    inner = {"name": person["first"], "surname": person["last"], "contacts": _contacts(person)}
    return {"personalInfo": {**_stamps(ts), "personalInfo": inner}, "sdeType": "PERSONAL_INFO"}


def purchase(rnd: random.Random, ts: int, person: Person) -> Event:
    products = _products(rnd)
    cart = {"total": f"{rnd.uniform(5, 900):.2f}", "serverTimeStamp": None, "products": products}
    body = {"total": cart["total"], "currency": rnd.choice(["USD", "EUR", None]), "serverTimeStamp": str(ts)}
    body.update(cart={**cart, "numItems": str(len(products))}, orderId=f"DRV{rnd.randint(1000, 9999)}XC")
    return {"purchase": body, "sdeType": "PURCHASE"}


def service_activity(rnd: random.Random, ts: int, person: Person) -> Event:
    activity = {
        "topic": rnd.choice(["order checkbook", "reset password", "dispute charge"]),
        "status": str(rnd.randint(0, 3)),
        "category": rnd.choice(["finance", "account", "billing"]),
        "serviceId": f"service{rnd.randint(1, 99)}",
    }
    return {"serviceActivity": {**_stamps(ts), "serviceActivity": activity}, "sdeType": "SERVICE_ACTIVITY"}


def viewed_product(rnd: random.Random, ts: int, person: Person) -> Event:
    key = rnd.choice(["viewedProduct", "viewProduct"])
    return {key: {**_stamps(ts), "products": _products(rnd)}, "sdeType": "VIEWED_PRODUCT"}


def search_content(rnd: random.Random, ts: int, person: Person) -> Event:
    keywords = rnd.sample(["refund", "שלום", "tracking", "café", "invoice 2024", "😀"], 2)
    if rnd.random() < 0.03:
        keywords.append(("very long search " * 4000)[:LONG_SDE_VALUE_CHARS])
    return {"searchContent": {**_stamps(ts), "keywords": keywords}, "sdeType": "SEARCH_CONTENT"}


def visitor_error(rnd: random.Random, ts: int, person: Person) -> Event:
    error = {
        "contextId": "checkout.payment",
        "message": {"string": rnd.choice(["Expiration date missing", "Card declined"])},
        "code": {"string": f"er{rnd.randint(100000, 100099)}"},
        "level": str(rnd.randint(1, 3)),
        "resolved": rnd.choice(["true", "false"]),
    }
    if rnd.random() < 0.5:
        return {"formFillingError": {**_stamps(ts), "visitorError": error}, "sdeType": "VISITOR_ERROR"}
    return {"visitorError": {**_stamps(ts), **error}, "sdeType": "VISITOR_ERROR"}


BUILDERS: list[Callable[[random.Random, int, Person], Event]] = [
    cart_status,
    customer_info,
    lead,
    marketing_campaign_info,
    personal_info_flat,
    personal_info_nested,
    purchase,
    service_activity,
    viewed_product,
    search_content,
    visitor_error,
]


def sde_events(rnd: random.Random, start_ms: int, end_ms: int, person: Person) -> list[Event]:
    """0-6 events between start and end; a type may repeat (an update of the same container)."""
    count = rnd.choice([0, 1, 2, 3, 3, 4, 5, 6])
    span = max(end_ms - start_ms, 1)
    stamps = sorted(start_ms + rnd.randrange(span) for _ in range(count))
    return [_finish_event(rnd, rnd.choice(BUILDERS)(rnd, ts, person), ts) for ts in stamps]


def _finish_event(rnd: random.Random, event: Event, ts: int) -> Event:
    if rnd.random() < 0.12:
        event.pop("sdeType")
    event["serverTimeStamp"] = str(ts)
    event["isAuthenticated"] = rnd.random() < 0.6
    return event


def container_key(event: Event) -> str:
    return next(k for k in event if k not in ("sdeType", "serverTimeStamp", "isAuthenticated"))


def latest_per_container(events: list[Event]) -> list[Event]:
    """What a search returns: only the latest event of each container type."""
    latest: dict[str, Event] = {}
    for event in events:
        key = container_key(event)
        if key in latest and int(latest[key]["serverTimeStamp"]) > int(event["serverTimeStamp"]):
            continue
        latest[key] = event
    return sorted(latest.values(), key=lambda e: int(e["serverTimeStamp"]))
