"""`infercost gate`: rules files, verdicts on recorded real runs, exit codes, GitHub Actions output."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from bench.ci import github
from bench.ci.gate import (
    RULE_METRICS,
    evaluate_gate,
    load_rules,
    load_run,
    parse_rules,
)
from bench.cli.app import main
from bench.errors import UsageError
from bench.report.runs import Run
from bench.results import stats
from bench.results.metrics.aggregate import samples
from bench.results.metrics.registry import FIELDS
from bench.results.schema import Record
from tests.helpers import FIXTURES, run_cli

BUNDLES = FIXTURES / "gate_bundles"
BASELINE, NOISE, REGRESSION = BUNDLES / "baseline", BUNDLES / "noise", BUNDLES / "regression"
MISMATCHED = BUNDLES / "mismatched"


@pytest.fixture(scope="module")
def views() -> dict[str, Run]:
    return {name: load_run(BUNDLES / name) for name in ("baseline", "noise", "regression", "gemma3")}


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture()
def gate(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """`infercost gate ...` in this process (a child process costs ~2 s of imports per call)."""

    def call(*args: str) -> Result:
        code = main(["gate", *args])
        cap = capsys.readouterr()
        return Result(code, cap.out, cap.err)

    return call


def rules_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gate.toml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------- rules files
def test_every_rule_is_a_registry_metric_with_a_direction() -> None:
    for name in RULE_METRICS:
        assert FIELDS[name].higher_is_better is not None, name
    # the rule names all exist
    for name in ("pass_rate", "cost_per_task_usd", "cost_per_success_usd", "ttft_p95_ms", "e2e_p95_ms"):
        assert name in RULE_METRICS
    assert "decode_tps_mean" in RULE_METRICS and "decode_tps" not in RULE_METRICS


def test_old_rule_names_are_read_as_the_registrys_with_a_warning() -> None:
    rules = parse_rules({"absolute": {"decode_tps": 90, "tpot_ms": 20}, "relative": {"steps": "+5%"}}, "g")
    assert [r.name for r in rules.absolute] == ["decode_tps_mean", "tpot_mean_ms"]
    assert [r.name for r in rules.relative] == ["steps_mean"]
    assert len(rules.warnings) == 3 and all("deprecated" in w for w in rules.warnings)
    assert "'decode_tps' is deprecated: it is now 'decode_tps_mean'" in rules.warnings[0]
    with pytest.raises(
        UsageError, match=r"absolute\.decode_tps_mean and absolute\.decode_tps are the same metric"
    ):
        parse_rules({"absolute": {"decode_tps": 90, "decode_tps_mean": 80}}, "g")
    assert not parse_rules({"absolute": {"decode_tps_mean": 90}}, "g").warnings


@pytest.mark.parametrize(
    ("raw", "op", "limit"),
    [(">= 0.5", ">=", 0.5), (">=50%", ">=", 0.5), (0.5, ">=", 0.5), ("0.5", ">=", 0.5), ("≥ 0.25", ">=", 0.25),
     ("> 0.5", ">", 0.5)],
)  # fmt: skip
def test_absolute_forms(raw: object, op: str, limit: float) -> None:
    rule = parse_rules({"absolute": {"pass_rate": raw}}, "g.toml").absolute[0]
    assert (rule.name, rule.op, rule.limit) == ("pass_rate", op, limit)


def test_direction_from_the_registry_fills_and_checks_operators() -> None:
    rules = parse_rules({"absolute": {"e2e_p95_ms": 300, "decode_tps_mean": 90}}, "g.toml")
    assert [(r.name, r.op) for r in rules.absolute] == [("e2e_p95_ms", "<="), ("decode_tps_mean", ">=")]
    with pytest.raises(
        UsageError, match=r'g.toml: absolute.decode_tps_mean: <= points the wrong way.*">= 10"'
    ):
        parse_rules({"absolute": {"decode_tps_mean": "<= 10"}}, "g.toml")
    with pytest.raises(UsageError, match=r"absolute.cost_per_task_usd: >= points the wrong way"):
        parse_rules({"absolute": {"cost_per_task_usd": ">= 0.1"}}, "g.toml")


def test_relative_forms_and_signs() -> None:
    rules = parse_rules(
        {"relative": {"decode_tps_mean": "-5%", "ttft_p95_ms": "+10%", "pass_rate": "2.5%"}}, "g"
    )
    got = {r.name: (r.tolerance, r.signed) for r in rules.relative}
    assert got == {
        "decode_tps_mean": (0.05, "-5%"),
        "ttft_p95_ms": (0.1, "+10%"),
        "pass_rate": (0.025, "-2.5%"),
    }
    with pytest.raises(UsageError, match=r'relative.decode_tps_mean: \+5% points the wrong way.*"-5%"'):
        parse_rules({"relative": {"decode_tps_mean": "+5%"}}, "g")
    with pytest.raises(UsageError, match=r'relative.e2e_p95_ms: cannot read.*"\+5%"'):
        parse_rules({"relative": {"e2e_p95_ms": 0.05}}, "g")
    with pytest.raises(UsageError, match="no per-request value to test significance on"):
        parse_rules({"relative": {"cost_per_success_usd": "+5%"}}, "g")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[absolute]\ndecode_tsp = ">= 3"\n', "g.toml: absolute: unknown field 'decode_tsp' (did you mean 'decode_tps'?)"),
        ('[absolut]\npass_rate = 0.5\n', "g.toml: unknown field 'absolut' (did you mean 'absolute'?)"),
        ('alpha = 2\n[absolute]\npass_rate = 0.5\n', "g.toml: alpha: Input should be less than 1"),
        ('[absolute]\ne2e_p95_ms = "<= 50%"\n', "g.toml: absolute.e2e_p95_ms: '%' only applies to fractions"),
        ('[absolute]\npass_rate = "at least half"\n', "g.toml: absolute.pass_rate: cannot read 'at least half'"),
        ("[absolute]\n", "g.toml: no rules"),
        ("[absolute\n", "g.toml: TOML syntax error"),
    ],
)  # fmt: skip
def test_bad_rules_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "g.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as exc:
        load_rules(path)
    assert str(exc.value).startswith(f"{tmp_path}/{message}")
    assert "\n" not in str(exc.value)


def test_example_rules_file_loads(root: Path) -> None:
    rules = load_rules(root / "gate.example.toml")
    assert rules.absolute and rules.relative


# ------------------------------------------------------------------ the recorded data itself
def test_recorded_regression_is_significant_and_noise_is_not(views: dict[str, Run]) -> None:
    """The fixtures must keep showing what the tests below rely on (README in tests/fixtures/gate_bundles)."""
    base = samples("decode_tps_mean", views["baseline"].records)
    reg = stats.compare_samples(
        base, samples("decode_tps_mean", views["regression"].records), higher_is_better=True
    )
    noise = stats.compare_samples(
        base, samples("decode_tps_mean", views["noise"].records), higher_is_better=True
    )
    assert reg.regression and reg.p_value is not None and reg.p_value < 0.001 and reg.change < -0.15
    assert not noise.significant and abs(noise.change) < 0.05
    assert reg.n_baseline == reg.n_candidate == 15


# ------------------------------------------------------------------------------ verdicts
RELATIVE = {
    "relative": {"decode_tps_mean": "-5%", "ttft_p95_ms": "+10%", "e2e_p95_ms": "+10%", "pass_rate": "-5%"}
}


def test_regression_fails_relative_rules(views: dict[str, Run]) -> None:
    result = evaluate_gate(parse_rules(RELATIVE, "g"), views["regression"], views["baseline"])
    by = {o.rule: o for o in result.outcomes}
    assert by["decode_tps_mean"].status == "fail"
    assert by["decode_tps_mean"].change is not None and by["decode_tps_mean"].change < -0.15
    assert "significant" in by["decode_tps_mean"].detail and "n=15/15" in by["decode_tps_mean"].detail
    assert by["pass_rate"].status == "pass"  # same answers with one thread or two
    assert result.exit_code == 1
    assert any("n_threads 2 → 1" in n for n in result.notes)  # the differing key property is shown


def test_noise_passes_and_improvement_passes(views: dict[str, Run]) -> None:
    rules = parse_rules(RELATIVE, "g")
    noise = evaluate_gate(rules, views["noise"], views["baseline"])
    assert noise.exit_code == 0 and {o.status for o in noise.outcomes} == {"pass"}
    improved = evaluate_gate(rules, views["baseline"], views["regression"])
    assert improved.exit_code == 0
    decode = next(o for o in improved.outcomes if o.rule == "decode_tps_mean")
    assert decode.change is not None and decode.change > 0.15 and "better" in decode.detail


def test_beyond_threshold_but_not_significant_passes(views: dict[str, Run]) -> None:
    """A 0% tolerance: the noise run's small drop is beyond it, but not significant: it must not fail."""
    result = evaluate_gate(
        parse_rules({"relative": {"decode_tps_mean": "-0%"}}, "g"), views["noise"], views["baseline"]
    )
    (o,) = result.outcomes
    assert o.status == "pass" and "not significant" in o.detail and "noise" in o.detail


def test_fewer_than_three_samples_is_untested_not_failed(views: dict[str, Run]) -> None:
    def first_two(view: Run) -> Run:
        keep = [r for r in view.records if not r.warmup and r.task_id == "count"][:2]
        return replace(view, records=keep)

    result = evaluate_gate(
        parse_rules({"relative": {"decode_tps_mean": "-5%"}}, "g"),
        first_two(views["regression"]),
        first_two(views["baseline"]),
    )
    (o,) = result.outcomes
    assert o.status == "untested" and "fewer than 3 samples" in o.detail and "n=2/2" in o.detail
    assert result.exit_code == 0 and "untested" in result.headline


def test_absolute_rules_and_missing_cost_is_no_data(views: dict[str, Run]) -> None:
    rules = parse_rules(
        {"absolute": {"pass_rate": ">= 0.5", "e2e_p95_ms": "<= 300", "cost_per_task_usd": "<= 0.001"}}, "g"
    )
    result = evaluate_gate(rules, views["regression"])
    by = {o.rule: o for o in result.outcomes}
    assert by["pass_rate"].status == "pass"
    assert by["e2e_p95_ms"].status == "fail" and "above the limit <= 300 ms" in by["e2e_p95_ms"].detail
    assert by["cost_per_task_usd"].status == "no data"
    assert by["cost_per_task_usd"].detail.startswith(
        "no cost data in this run: the device profile has no prices: add price_usd (with lifetime_years and utilization) or kwh_usd"
    )
    assert result.exit_code == 2  # cannot decide beats failed: the input needs fixing first


def priced(view: Run, usd_per_ms: float) -> Run:
    """The run as enrichment will give it once a cost model fills ``cost_usd`` (here ∝ request time)."""
    recs = [r.model_copy(update={"cost_usd": (r.e2e_ms or 0) * usd_per_ms}) for r in view.records]
    return replace(view, records=recs)


def test_cost_rules_once_records_carry_cost(views: dict[str, Run]) -> None:
    base, reg = priced(views["baseline"], 1e-6), priced(views["regression"], 1e-6)
    rules = parse_rules(
        {"absolute": {"cost_per_success_usd": "<= 0.0003"}, "relative": {"cost_per_task_usd": "+10%"}}, "g"
    )
    result = evaluate_gate(rules, reg, base)
    by = {o.rule: o for o in result.outcomes}
    assert by["cost_per_task_usd"].status == "fail" and "significant" in by["cost_per_task_usd"].detail
    assert by["cost_per_success_usd"].status == "fail"  # ~0.3 ms·1e-6 $/ms / 0.67 ≈ $0.00044
    assert evaluate_gate(rules, priced(views["noise"], 1e-6), base).exit_code == 0


def test_nothing_passed_makes_cost_per_success_unbounded(views: dict[str, Run]) -> None:
    view = priced(views["baseline"], 1e-6)
    failed: list[Record] = [r.model_copy(update={"passed": False}) for r in view.records]
    view = replace(view, records=failed)
    (o,) = evaluate_gate(parse_rules({"absolute": {"cost_per_success_usd": 1.0}}, "g"), view).outcomes
    assert o.status == "fail" and "no task passed" in o.detail and o.value_text == "∞"


def test_other_key_properties_are_compared_and_shown(views: dict[str, Run]) -> None:
    """A different model may be gated against the old one; the difference is stated, not refused."""
    result = evaluate_gate(
        parse_rules({"relative": {"decode_tps_mean": "-5%"}}, "g"), views["gemma3"], views["baseline"]
    )
    (note,) = result.notes
    assert note.startswith("differs from the baseline in model: SmolLM2-135M-Instruct.Q4_1.gguf (sha256:")
    assert "→ gemma-3-270m-q4_k_m.gguf (sha256:" in note
    assert result.outcomes[0].status == "fail"  # Gemma 3 270M decodes slower on this CPU: a real regression


def test_relative_rules_need_a_baseline(views: dict[str, Run]) -> None:
    with pytest.raises(UsageError, match=r"\[relative\] rules \(decode_tps_mean\) need a baseline"):
        evaluate_gate(parse_rules({"relative": {"decode_tps_mean": "-5%"}}, "g"), views["noise"])


# --------------------------------------------------------------------------------- the CLI
GATE_TOML = '[absolute]\npass_rate = ">= 50%"\n[relative]\ndecode_tps_mean = "-5%"\nttft_p95_ms = "+10%"\n'


def test_cli_exit_codes(tmp_path: Path, gate) -> None:  # type: ignore[no-untyped-def]
    rules = str(rules_file(tmp_path, GATE_TOML))
    ok = gate(str(NOISE), "--rules", rules, "--baseline", str(BASELINE))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "PASS" in ok.stdout and "gate: PASS: 3 rule(s) hold" in ok.stdout and "::error" not in ok.stdout
    bad = run_cli("gate", str(REGRESSION), "--rules", rules, "--baseline", str(BASELINE))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "FAIL" in bad.stdout and "gate: FAIL: 2 of 3 rule(s) failed" in bad.stdout
    assert "backend settings: n_threads 2 → 1" in bad.stderr  # shown as information
    better = gate(str(BASELINE), "--rules", rules, "--baseline", str(REGRESSION))
    assert better.returncode == 0, better.stdout + better.stderr


def test_cli_mismatched_suite_is_exit_2(tmp_path: Path, gate) -> None:  # type: ignore[no-untyped-def]
    proc = gate(str(MISMATCHED), "--rules", str(rules_file(tmp_path, GATE_TOML)), "--baseline", str(BASELINE))
    assert proc.returncode == 2
    assert "ran suite mini" in proc.stderr and "different tasks cannot be compared" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_input_errors_are_exit_2(tmp_path: Path, gate) -> None:  # type: ignore[no-untyped-def]
    bad_rules = gate(str(NOISE), "--rules", str(rules_file(tmp_path, "[absolute]\nspeed = 3\n")))
    assert bad_rules.returncode == 2 and "unknown field 'speed'" in bad_rules.stderr
    assert len(bad_rules.stderr.strip().splitlines()) == 1
    no_baseline = gate(str(NOISE), "--rules", str(rules_file(tmp_path, GATE_TOML)))
    assert no_baseline.returncode == 2 and "give --baseline RUN" in no_baseline.stderr
    missing = gate(str(tmp_path / "nope"), "--rules", str(rules_file(tmp_path, GATE_TOML)))
    assert missing.returncode == 2 and "no bundle" in missing.stderr
    cost = gate(str(NOISE), "--rules", str(rules_file(tmp_path, "[absolute]\ncost_per_task_usd = 0.01\n")))
    assert (
        cost.returncode == 2 and "no cost data in this run: the device profile has no prices" in cost.stdout
    )
    partial = tmp_path / "partial"
    shutil.copytree(BASELINE, partial)
    manifest = json.loads((partial / "manifest.json").read_text())
    (partial / "manifest.json").write_text(json.dumps({**manifest, "complete": False}))
    incomplete = gate(str(partial), "--rules", str(rules_file(tmp_path, "[absolute]\npass_rate = 0\n")))
    assert incomplete.returncode == 2 and "the run did not finish" in incomplete.stderr


def test_cli_json(tmp_path: Path, gate) -> None:  # type: ignore[no-untyped-def]
    proc = gate(
        str(REGRESSION),
        "--rules",
        str(rules_file(tmp_path, GATE_TOML)),
        "--baseline",
        str(BASELINE),
        "--json",
    )
    doc = json.loads(proc.stdout)
    assert proc.returncode == doc["exit_code"] == 1
    assert [r["status"] for r in doc["rules"]] == ["pass", "fail", "fail"]
    assert doc["rules"][1]["metric"] == "decode_tps_mean" and doc["rules"][1]["p_value"] < 0.001


# ------------------------------------------------------------------------- GitHub Actions
def test_escaping_follows_the_runner() -> None:
    assert github.escape_data("-5% a\nb\r") == "-5%25 a%0Ab%0D"
    assert github.escape_property("gate: x, y") == "gate%3A x%2C y"
    assert github.annotation("error", "t: 1", "50%") == "::error title=t%3A 1::50%25"


def test_cli_github_annotations_and_step_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate
) -> None:  # type: ignore[no-untyped-def]
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    proc = gate(str(REGRESSION), "--rules", str(rules_file(tmp_path, GATE_TOML)), "--baseline", str(BASELINE))
    assert proc.returncode == 1
    errors = [line for line in proc.stdout.splitlines() if line.startswith("::")]
    assert len(errors) == 2
    assert errors[0].startswith(
        "::error title=infercost gate%3A decode_tps_mean::decode_tps_mean 80.4 tok/s (relative, "
    )
    assert "-24.1%25 is beyond -5%25 and significant" in errors[0]
    assert errors[1].startswith("::error title=infercost gate%3A ttft_p95_ms::")
    md = summary.read_text()
    assert md.startswith("earlier step\n### infercost gate: FAIL: 2 of 3 rule(s) failed")
    assert "| `decode_tps_mean` | relative | 80.4 tok/s | -5% vs 105.9 tok/s | ❌ FAIL |" in md
    assert "| `pass_rate` | absolute | 67% | >= 50% | ✅ PASS |" in md


def test_cli_warns_about_an_old_rule_name_and_still_gates(tmp_path: Path, gate) -> None:  # type: ignore[no-untyped-def]
    proc = gate(str(NOISE), "--rules", str(rules_file(tmp_path, '[absolute]\ndecode_tps = ">= 1"\n')))
    assert proc.returncode == 0, proc.stderr
    assert "'decode_tps' is deprecated: it is now 'decode_tps_mean'" in proc.stderr
    assert "decode_tps_mean" in proc.stdout
