"""agentpolicy check: summaries, --strict and diagnostics as JSON."""

from __future__ import annotations

import json

from conftest import LAB, POLICIES

HEADER = f'pipeline "{LAB}/pipeline.toml"\nprices "{LAB}/models.toml"\n'


def test_a_clean_policy(cli):
    result = cli("check", POLICIES / "lab.policy")
    assert (result.code, result.out, result.err) == (0, "", f"{POLICIES / 'lab.policy'}: ok\n")


def test_warnings_pass_unless_strict(cli, tmp_path):
    policy = tmp_path / "p.policy"
    policy.write_text(HEADER + "route step name=plan and name=draft to opus\n")

    relaxed = cli("check", policy)
    assert relaxed.code == 0
    assert relaxed.err.startswith("warning[W100]: 'route step name=plan and name=draft to opus'")
    assert relaxed.err.endswith(f"{policy}: ok, 1 warning\n")

    strict = cli("check", "--strict", policy)
    assert strict.code == 2
    assert strict.err.startswith("error[W100]: 'route step name=plan and name=draft to opus'")
    assert strict.err.endswith(f"{policy}: failed, 1 error\n")


def test_diagnostics_as_json(cli, tmp_path):
    policy = tmp_path / "p.policy"
    policy.write_text(HEADER + "route step name=plan and name=draft to opus\n")
    result = cli("check", "--format", "json", policy, POLICIES / "lab.policy")
    assert (result.code, result.err) == (0, "")
    assert json.loads(result.out) == {
        "schema": "agentpolicy.check/1",
        "ok": True,
        "strict": False,
        "policies": [
            {"path": str(policy), "ok": True, "errors": 0, "warnings": 1},
            {"path": str(POLICIES / "lab.policy"), "ok": True, "errors": 0, "warnings": 0},
        ],
        "diagnostics": [
            {
                "code": "W100",
                "severity": "warning",
                "message": "'route step name=plan and name=draft to opus' matches no step",
                "file": str(policy),
                "line": 3,
                "column": 1,
                "hint": None,
            }
        ],
    }


def test_errors_as_json_exit_2(cli, tmp_path):
    policy = tmp_path / "p.policy"
    policy.write_text(HEADER + "route step difficulty=easy to haiku3\n")
    result = cli("check", "--format", "json", policy)
    assert (result.code, result.err) == (2, "")
    document = json.loads(result.out)
    assert document["ok"] is False
    assert document["policies"] == [{"path": str(policy), "ok": False, "errors": 1, "warnings": 0}]
    assert document["diagnostics"] == [
        {
            "code": "E211",
            "severity": "error",
            "message": "unknown model 'haiku3'",
            "file": str(policy),
            "line": 3,
            "column": 31,
            "hint": "did you mean 'haiku'?",
        }
    ]


def test_strict_json_marks_warnings_as_errors(cli, tmp_path):
    policy = tmp_path / "p.policy"
    policy.write_text(HEADER + "batch step name=plan\n")
    result = cli("check", "--strict", "--format", "json", policy)
    assert result.code == 2
    document = json.loads(result.out)
    assert document["strict"] is True
    assert [(d["code"], d["severity"]) for d in document["diagnostics"]] == [("W103", "error")]


def test_a_syntax_error_as_json(cli, tmp_path):
    policy = tmp_path / "p.policy"
    policy.write_text("cache prefix\nroute step difficulty=easy haiku\n")
    result = cli("check", "--format", "json", policy)
    assert result.code == 2
    [diagnostic] = json.loads(result.out)["diagnostics"]
    assert (diagnostic["code"], diagnostic["line"], diagnostic["column"]) == ("E102", 2, 28)
    assert "'to'" in diagnostic["hint"]
