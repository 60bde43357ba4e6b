"""lesync: LivePerson conversations mirrored into Salesforce Chat Transcripts, run by Airflow."""

__version__ = "0.1.0"
