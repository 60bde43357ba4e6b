"""``python -m lesync preview``: rows printed one per line; bad mapping -> exit 2, no traceback."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

from lpexamples import DEFAULT_MAPPING, REPO, chat_surveys, example_path, messaging

from lesync.__main__ import main
from lesync.emulators.salesforce.schema import describe_sobject, load_schema


def preview(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = main(["preview", "--mapping", str(DEFAULT_MAPPING), *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_search_response_file(capsys):
    code, rows, _ = preview(
        capsys, str(example_path("msghist_conversations_search_response.docs_example.json"))
    )
    assert code == 0 and len(rows) == 1
    assert rows[0]["channel"] == "messaging"
    assert rows[0]["fields"]["Agent_Name__c"] == "michal@lp.com"


def test_single_record_and_gzipped_json_lines(tmp_path, capsys):
    single = tmp_path / "one.json"
    single.write_text(json.dumps(chat_surveys()))
    code, rows, _ = preview(capsys, "--channel", "chat", str(single))
    assert code == 0 and rows[0]["conversation_id"] == "qa359315574294967901"
    lines = tmp_path / "many.jsonl.gz"
    with gzip.open(lines, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(chat_surveys()) + "\n" + json.dumps(messaging()) + "\n")
    code, rows, _ = preview(capsys, str(lines))
    assert [row["channel"] for row in rows] == ["chat", "messaging"]


def test_transcript_is_shortened_unless_full_is_asked(tmp_path, capsys):
    record = chat_surveys()
    record["transcript"]["lines"] *= 20
    path = tmp_path / "long.json"
    path.write_text(json.dumps(record))
    _, rows, _ = preview(capsys, str(path))
    assert "--full-transcript shows all" in rows[0]["transcript_file"]["content"]
    assert "--full-transcript shows all" in rows[0]["fields"]["Transcript__c"]
    _, rows, _ = preview(capsys, "--full-transcript", str(path))
    assert rows[0]["transcript_file"]["content"].count("\n") == 179


def test_describe_file_drives_limits(tmp_path, capsys):
    schema = load_schema(
        extra={
            "objects": {"Chat_Transcript__c": {"fields": {"Agent_Name__c": {"type": "string", "length": 5}}}}
        }
    )
    describe = tmp_path / "describe.json"
    describe.write_text(json.dumps(describe_sobject(schema, "Chat_Transcript__c")))
    _, rows, _ = preview(
        capsys,
        "--describe",
        str(describe),
        str(example_path("enghist_interactions_search_response.docs_example_surveys.json")),
    )
    assert rows[0]["fields"]["Agent_Name__c"] == "liorr"


def test_bad_mapping_exits_2_with_the_message(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("fields:\n  - target: Agent_Name__c\n    lp_field: agentNme\n")
    code = main(
        [
            "preview",
            "--mapping",
            str(bad),
            str(example_path("enghist_interactions_search_response.docs_example_surveys.json")),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "did you mean 'agentName'?" in err and "Traceback" not in err


def test_unreadable_input_exits_2(tmp_path, capsys):
    junk = tmp_path / "junk.txt"
    junk.write_text("{not json\n")
    code = main(["preview", "--mapping", str(DEFAULT_MAPPING), str(junk)])
    assert code == 2
    assert "line 1 is not JSON" in capsys.readouterr().err


def test_runs_as_a_module(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("transcript:\n  mode: nope\n")
    env = dict(os.environ, PYTHONPATH=str(REPO / "plugins"))
    done = subprocess.run(
        [sys.executable, "-m", "lesync", "preview", "--mapping", str(bad), "x.json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 2
    assert "transcript.mode: must be" in done.stderr and "Traceback" not in done.stderr
