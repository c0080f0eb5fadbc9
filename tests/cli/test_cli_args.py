"""Option parsing alone (no run): counts must be whole numbers in range, with argparse's one-line error."""

from __future__ import annotations

import pytest

from bench.cli.app import build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--repetitions", "0"],
        ["run", "-r", "-3"],
        ["run", "--threads", "0"],
        ["run", "--concurrency", "0"],
        ["run", "--warmup", "-1"],
        ["run", "--seed", "-5"],
        ["run", "-r", "2.5"],
    ],
)
def test_counts_out_of_range_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "expected" in err and argv[1] in err


def test_zero_warmups_and_seed_zero_are_allowed() -> None:
    ns = build_parser().parse_args(["run", "--warmup", "0", "--seed", "0", "-r", "1"])
    assert (ns.warmup, ns.seed, ns.repetitions) == (0, 0, 1)


def test_the_cli_starts_without_the_heavy_libraries() -> None:
    """`infercost --help` took 1.8 s when every command imported scipy, pandas and matplotlib up front
    (0.33 s without): they load where a command uses them."""
    import subprocess
    import sys

    code = (
        "import sys, bench.cli.app; "
        "print(sorted(m for m in ('scipy', 'pandas', 'matplotlib', 'duckdb') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
