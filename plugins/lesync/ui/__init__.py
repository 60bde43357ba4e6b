"""lesync's page inside Airflow 3's UI: an Airflow plugin with a FastAPI app and a navigation entry.

``plugin.LesyncPlugin`` is what Airflow loads; ``app.create_app`` builds the pages and their JSON
twins; ``data`` is the one place that reads lesync's state store. Replays are not triggered here:
the page calls Airflow's own REST API with the signed-in user's session, so Airflow decides who
may replay.
"""
