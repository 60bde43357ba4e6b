"""lesync is a registered Airflow provider: the LivePerson connection form exists in the UI.

Asked of Airflow's own ProvidersManager (what the UI and the API read), not of our hook: a form
declared in the hook but never registered is exactly the fault this guards against.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def providers():
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def test_lesync_is_a_provider(providers):
    import lesync

    assert providers.providers["lesync"].version == lesync.__version__


@pytest.fixture(scope="module")
def runtime_hooks():
    """Hooks as task processes resolve them (Airflow 3 moved that lookup into the task SDK)."""
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    return ProvidersManagerTaskRuntime().hooks


def test_the_liveperson_connection_type_with_its_hook(providers, runtime_hooks):
    from lesync.liveperson.hook import CONN_FIELDS, LivePersonHook

    hook = runtime_hooks["liveperson"]
    assert hook.hook_class_name == "lesync.liveperson.hook.LivePersonHook"
    assert hook.package_name == "lesync" and hook.hook_name == LivePersonHook.hook_name
    assert hook.connection_id_attribute_name == "liveperson_conn_id"
    widgets = {name for name in providers.connection_form_widgets if name.startswith("extra__liveperson__")}
    assert widgets == {f"extra__liveperson__{name}" for name in CONN_FIELDS}


def test_the_form_asks_for_exactly_our_fields(providers):
    behaviour = providers.field_behaviours["liveperson"]
    assert set(behaviour["hidden_fields"]) == {"host", "schema", "port", "extra"}
    assert "App Key" in behaviour["relabeling"]["login"]


def test_salesforce_keeps_the_providers_form(runtime_hooks):
    """lesync reads the provider's ``salesforce`` type; it registers no second one."""
    assert runtime_hooks["salesforce"].package_name == "apache-airflow-providers-salesforce"


def test_the_ui_plugin_is_loaded_once_by_the_api_server():
    """What ``airflow api-server`` mounts: the lesync FastAPI app, once, with no import error."""
    from airflow import plugins_manager

    plugins, import_errors = plugins_manager._get_plugins()
    assert [p.name for p in plugins].count("lesync") == 1
    assert not {source: error for source, error in import_errors.items() if "lesync" in source + error}
    apps, _ = plugins_manager.get_fastapi_plugins()
    assert [app["url_prefix"] for app in apps if app["name"] == "lesync"] == ["/lesync"]
