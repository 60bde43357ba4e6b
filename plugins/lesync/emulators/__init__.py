"""Local stand-ins for LivePerson and Salesforce: the demo, the tests and the benchmarks run on them.

They follow the behaviour written down in shared/api-facts.md, errors and limits included, so a
client that copes with them copes with the real services.
"""
