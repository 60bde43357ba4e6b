"""The customer's org: does it fit the mapping, what would create it, and adopting its history.

- ``check_org(describes, mapping, integration)`` -> ``OrgReport`` (pure; ``describe_and_check``
  fetches one describe per object first and returns them for reuse).
- ``metadata_files(mapping, integration)``: Salesforce metadata source for what the mapping needs.
- ``adopt(client, AdoptSettings(...))``: fill the external id of existing transcripts.
- ``cli.register``: ``python -m lesync org check | metadata | adopt``.

Sits beside ``pipeline/``: imports ``mapping/`` and ``salesforce/``; neither imports it.
"""
