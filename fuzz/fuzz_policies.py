#!/usr/bin/env python
"""Fuzz the policy parser and checker with random and near-valid policy text.

Every input must end in success or in diagnostics that each carry file:line:col; never an
exception, never a hang. Inputs are the real policies (`policies/*.pmo`) mutated: tokens
dropped, duplicated, swapped and replaced, keywords swapped, unicode and control
characters inserted, very long lines, deep nesting of brackets and operators, huge
numbers, stray quotes and braces, NUL and invalid UTF-8 bytes, truncation and splicing.

    python fuzz/fuzz_policies.py --seconds 600 [--seed N] [--cli-every 500] [--audit]

prints how many cases ran and every failure (with the input saved under
`fuzz/failures/`), and exits 1 if there was any. `--cli-every N` also runs every Nth case
through `pmo-rules check` in a subprocess (exit 0 or 2, located errors, no traceback);
`--audit` also evaluates every mutated policy that checks against the bundled sample
(evaluation problems must be `error` outcomes, never exceptions). `tests/test_hardening_parse.py` runs
the same mutators and oracle under hypothesis for a few seconds in CI.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import signal
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "policies"
NAME = "fuzz.pmo"
CASE_SECONDS = 20.0  # a case taking longer than this is a hang

# ------------------------------------------------------------------------ seeds --


@dataclass(frozen=True)
class Seed:
    name: str
    text: str
    companion: str | None  # the policy file a `*_test.pmo` seed's tests name


def seeds() -> list[Seed]:
    out = []
    for p in sorted(POLICIES.glob("*.pmo")):
        companion = None
        if p.name.endswith("_test.pmo"):
            c = p.with_name(p.name[: -len("_test.pmo")] + ".pmo")
            companion = c.read_text(encoding="utf-8") if c.is_file() else None
        out.append(Seed(p.name, p.read_text(encoding="utf-8"), companion))
    small = ('package t\n\nparam floor = 0.9 "a floor"\n\nrule r-1 {\n    severity high\n'
             '    for project in projects where project.status == "active"\n'
             '    let x = sum(r.impact for r in project.risks where r.status == "open")\n'
             '    require x <= 20% * project.budget.approved else "{x:.2f} over {floor}"\n'
             '    message "{project.id} has {x}"\n}\n\n'
             'waiver W-1 {\n    rule t.r-1\n    subjects "P-1"\n    reason "ok"\n'
             '    approved_by "CFO"\n    expires 2027-01-31\n}\n\n'
             'test t-1 {\n    given projects = [{id: "P-1", status: "active"}]\n    as_of 2026-11-26\n'
             '    expect t.r-1 pass for "P-1"\n}\n')
    out.append(Seed("small.pmo", small, None))
    return out


# ---------------------------------------------------------------------- tokens --

_TOKEN = re.compile(r'\s+|"(?:\\.|[^"\\\n])*"?|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*'
                    r"|\d[\w.%-]*|\?\?|[=!<>]=|.", re.S)

KEYWORDS = ("package param rule waiver test for in where let require else message remediation and or not "
            "implies matches contains is present missing true false null today title description severity "
            "enforcement tags owner ref subjects reason approved_by expires given as_of expect all any none "
            "count sum min max avg len lower upper round abs days date cpi spi projects people programs risks "
            "high low critical medium info hard soft advisory fail pass error waived").split()

POOL = (
    list(KEYWORDS)
    + ["(", ")", "[", "]", "{", "}", ",", ":", ".", "=", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*",
       "/", "??", "%", "&&", "||", "!", "'", '"', '\\', "`", "$", "@", ";", "^", "~", "#", "\n", "\t", "\r",
       '"{"', '"}"', '"{x"', '"{{"', '"\\"', '"{project.id:.2f}"', '"{project.id:x}"', '"{}"',
       "0", "1", "-1", "250_000", "1.5M", "2B", "20%", "14d", "2w", "3mo", "1y", "2026-11-26", "2026-02-30",
       "0000-01-01", "9999-12-31", "10x", "1.5w", "5-3", "1__0", "1.2.3", "1_", "9" * 400, "9" * 5000 + "B",
       "99999999999999999999999999d", "1" + "0" * 5000 + "y", "1" + "0" * 5000 + "%", "0.000000000000000001",
       "x", "project", "project.budget.approved", 'project["cost-center"]', "a-b", "_", "__", "é", "ñame"]
)

UNICODE = ["\x1b[31m", "\x1b]8;;x\x07", '"\x1b[2J"', '"\u202e"', "\u202e", "\u202d", "\u2066", "\u200b", "\u200d", "\ufeff", "\u0301", "\u2028", "\u2029", "\x85",
           "\x0b", "\x0c", "\x1b[31m", "\x1b]8;;http://x\x1b\\", "\x7f", "\u00a0", "\u3000", "\uff1d", "\uff08",
           "\U0001f600", "\U00010000", "\u0430", "\u03bf", "中文", "\ud7ff", "\ue000", "\ufffd", "\uffff", "\u0000"]

BAD_BYTES = [b"\xff", b"\xfe", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\xe2\x82",
             b"\x00", b"\xef\xbb\xbf", b"\r", b"\r\n", b"\xf0\x9f\x98"]


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _significant(toks: list[str]) -> list[int]:
    return [i for i, t in enumerate(toks) if not t.isspace()] or [0]


# ------------------------------------------------------------------- mutators --
# Each takes (text, rng, other_seed_text) and returns text (str) or raw bytes.


def m_drop_token(text, rng, other):
    toks = tokens(text)
    if not toks:
        return text
    i = rng.choice(_significant(toks))
    del toks[i]
    return "".join(toks)


def m_duplicate_token(text, rng, other):
    toks = tokens(text)
    if not toks:
        return text
    i = rng.choice(_significant(toks))
    toks.insert(i, toks[i] + rng.choice(["", " "]))
    return "".join(toks)


def m_swap_tokens(text, rng, other):
    toks = tokens(text)
    sig = _significant(toks)
    if len(sig) < 2:
        return text
    k = rng.randrange(len(sig) - 1)
    i, j = sig[k], sig[k + 1] if rng.random() < 0.7 else rng.choice(sig)
    toks[i], toks[j] = toks[j], toks[i]
    return "".join(toks)


def m_replace_token(text, rng, other):
    toks = tokens(text)
    if not toks:
        return rng.choice(POOL)
    i = rng.choice(_significant(toks))
    toks[i] = rng.choice(POOL)
    return "".join(toks)


def m_swap_keyword(text, rng, other):
    toks = tokens(text)
    kws = [i for i, t in enumerate(toks) if t in KEYWORDS]
    if not kws:
        return m_replace_token(text, rng, other)
    toks[rng.choice(kws)] = rng.choice(KEYWORDS)
    return "".join(toks)


def m_insert_token(text, rng, other):
    toks = tokens(text)
    i = rng.randrange(len(toks) + 1)
    toks.insert(i, rng.choice([" ", ""]) + rng.choice(POOL) + rng.choice([" ", ""]))
    return "".join(toks)


def m_insert_unicode(text, rng, other):
    i = rng.randrange(len(text) + 1)
    return text[:i] + rng.choice(UNICODE) + text[i:]


def m_insert_bad_bytes(text, rng, other):
    data = text.encode("utf-8", errors="surrogateescape")
    i = rng.randrange(len(data) + 1)
    return data[:i] + rng.choice(BAD_BYTES) + data[i:]


def m_long_line(text, rng, other):
    n = rng.choice([1_000, 10_000, 100_000, 300_000])
    filler = rng.choice([
        "x" * n, '"' + "a" * n + '"', "# " + "c" * n, "1" * n, " " * n, "a" + "-b" * (n // 2),
        "project" + ".a" * (n // 2), '"' + "{x}" * (n // 3) + '"', "é" * n, "\t" * n,
    ])
    toks = tokens(text)
    i = rng.randrange(len(toks) + 1)
    toks.insert(i, " " + filler + " ")
    return "".join(toks)


def m_deep_nesting(text, rng, other):
    n = rng.choice([50, 99, 100, 101, 150, 1_000, 20_000])
    opener, closer = rng.choice([("(", ")"), ("[", "]"), ("{", "}"), ("not ", ""), ("- ", ""),
                                 ("{a: ", "}"), ("sum(", " for x in xs)"), ("1 ?? ", ""),
                                 ("true implies ", ""), ("x.", "y"), ("f(", ")")])
    core = rng.choice(["1", "true", "project.id", '"s"', ""])
    closers = closer * (n if rng.random() < 0.8 else rng.randrange(n + 1))
    nest = opener * n + core + closers
    if rng.random() < 0.3:  # inside a message template: not counted by the bracket scan
        nest = 'message "{' + nest.replace('"', '\\"') + '}"'
        m = re.search(r'\bmessage "[^"\n]*"', text)
        if m:
            return text[: m.start()] + nest + text[m.end():]
    m = re.search(r"\brequire ", text)
    if m and rng.random() < 0.8:
        return text[: m.end()] + nest + " and " + text[m.end():]
    i = rng.randrange(len(text) + 1)
    return text[:i] + nest + text[i:]


def m_long_chain(text, rng, other):
    n = rng.choice([100, 1_000, 5_000, 20_000])
    op = rng.choice([" + 1", " and true", " or false", " * 2", " ?? 1", ", 1"])
    m = re.search(r"\brequire ", text)
    chain = "1" + op * n if op != ", 1" else "[1" + op * n + "] contains 1"
    if m:
        return text[: m.end()] + chain + " > 0 and " + text[m.end():]
    return text + "\nrule r { for p in projects require " + chain + " }\n"


def m_stray(text, rng, other):
    i = rng.randrange(len(text) + 1)
    return text[:i] + rng.choice(['"', "{", "}", "\\", '"{', "}}", "{{", "\\\"", "(", ")", "]", "[", "#", "\n"]) + text[i:]


def m_truncate(text, rng, other):
    return text[: rng.randrange(len(text) + 1)]


def m_splice(text, rng, other):
    if not other:
        return text
    a = rng.randrange(len(other) + 1)
    b = min(len(other), a + rng.randrange(1, 400))
    i = rng.randrange(len(text) + 1)
    return text[:i] + other[a:b] + text[i:]


def m_duplicate_declaration(text, rng, other):
    starts = [m.start() for m in re.finditer(r"^(rule|waiver|test|param) ", text, re.M)]
    if not starts:
        return text
    k = rng.randrange(len(starts))
    end = starts[k + 1] if k + 1 < len(starts) else len(text)
    return text + "\n" + text[starts[k]:end]


def m_line_endings(text, rng, other):
    return rng.choice([text.replace("\n", "\r\n"), text.replace("\n", "\r"), "\ufeff" + text,
                       text.replace("    ", "\t"), text.replace("\n", " ")])


def m_random_bytes(text, rng, other):
    data = bytearray(text.encode("utf-8", errors="surrogateescape"))
    for _ in range(rng.randrange(1, 8)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def m_reserved_names(text, rng, other):
    word = rng.choice(KEYWORDS)
    return rng.choice([
        re.sub(r"\blet (\w+)", f"let {word}", text, count=1),
        re.sub(r"\bfor (\w+) in", f"for {word} in", text, count=1),
        re.sub(r"\bparam (\w+)", f"param {word}", text, count=1),
        re.sub(r"\brule ([\w-]+)", f"rule {word}", text, count=1),
        re.sub(r"\bpackage (\w+)", f"package {word}", text, count=1),
    ])


MUTATORS = [m_drop_token, m_duplicate_token, m_swap_tokens, m_replace_token, m_swap_keyword, m_insert_token,
            m_insert_unicode, m_insert_bad_bytes, m_long_line, m_deep_nesting, m_long_chain, m_stray, m_truncate,
            m_splice, m_duplicate_declaration, m_line_endings, m_random_bytes, m_reserved_names]
#: Mutators that make big inputs (slow to parse): used sparingly in CI.
BIG = {m_long_line, m_deep_nesting, m_long_chain}


def apply(seed_text: str, steps: list[tuple[int, int]], other: str = "") -> bytes:
    """Apply `(mutator index, rng seed)` steps to a seed text; the result as bytes."""
    cur: str | bytes = seed_text
    for idx, s in steps:
        rng = random.Random(s)
        if isinstance(cur, bytes):
            cur = cur.decode("utf-8", errors="surrogateescape")
        cur = MUTATORS[idx % len(MUTATORS)](cur, rng, other)
    if isinstance(cur, str):
        return cur.encode("utf-8", errors="surrogateescape")
    return cur


def token_soup(rng: random.Random, n: int) -> bytes:
    """Near-valid text: a package line and a random sequence of policy tokens."""
    parts = ["package t\n"] + [rng.choice(POOL) + rng.choice([" ", "", "\n"]) for _ in range(n)]
    return "".join(parts).encode("utf-8", errors="surrogateescape")


# ------------------------------------------------------------------------ oracle --


class Hang(Exception):
    pass


class Failure(Exception):
    pass


_SESSION = None
_COMPANIONS: dict[str, object] = {}


def session():
    global _SESSION
    if _SESSION is None:
        from pmo_rules import api

        _SESSION = api.Session.create()
    return _SESSION


def _companion_module(text: str):
    key = hashlib.sha1(text.encode()).hexdigest()
    if key not in _COMPANIONS:
        from pmo_rules.parse import parse_text

        _COMPANIONS[key] = parse_text(text, "companion.pmo")[0]
    return _COMPANIONS[key]


# What must never reach a terminal from a policy file: C0/C1 controls (ESC starts ANSI
# sequences) other than line feed, and the bidirectional overrides of "Trojan Source".
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _terminal_names() -> set[str]:
    from pmo_rules.grammar import parser

    return {t.name for t in parser().terminals if len(t.name) > 2} | {"$END"}


_WHERE = re.compile(r"^(?P<file>[^\n:]+):(?P<line>\d+):(?P<col>\d+): (error|warning)\[[a-z-]+\]: ", re.M)


def check_case(data: bytes, companion: str | None = None, *, seconds: float = CASE_SECONDS,
               audit_data=None) -> str:
    """Parse and check one input; raise Failure/Hang if the contract is broken.

    Returns "ok" (no diagnostics) or "diagnostics". With `audit_data` (a `LoadResult`), a
    policy that checks is also audited: evaluation problems must be `error` outcomes.
    """
    from pmo_rules.check import check_modules
    from pmo_rules.diagnostics import DiagnosticList
    from pmo_rules.parse import parse_bytes

    def on_alarm(signum, frame):
        raise Hang(f"no answer after {seconds:.0f} s")

    use_alarm = seconds and hasattr(signal, "setitimer")
    if use_alarm:
        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        module, source, diags = parse_bytes(data, NAME, partial=True)
        dl = DiagnosticList()
        dl.sources[NAME] = source
        dl.extend(diags)
        if module is not None:
            s = session()
            mods = [module]
            if companion is not None:
                cm = _companion_module(companion)
                if cm is not None:
                    mods.insert(0, cm)
            program, check_diags, usage = check_modules(mods, s.registry.functions, sources=dl.sources,
                                                        collections=s.collections())
            if usage:
                raise Failure(f"usage errors from a policy text: {usage}")
            dl.extend(check_diags)
        rendered = dl.render(limit=10_000)
    except (Hang, Failure):
        raise
    except BaseException as exc:  # noqa: BLE001 - this is what we are looking for
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise Failure(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-6)}") from None
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    n_lines = source.text.count("\n") + 2
    for d in dl.items:
        if d.span is None:
            raise Failure(f"diagnostic without a location: [{d.code}] {d.message}")
        sp = d.span
        if sp.file not in (NAME, "companion.pmo"):
            raise Failure(f"diagnostic names file {sp.file!r}: [{d.code}] {d.message}")
        if sp.file == NAME and not (1 <= sp.line <= n_lines and sp.column >= 1):
            raise Failure(f"diagnostic at {sp} outside the file ({n_lines - 1} lines): [{d.code}] {d.message}")
        if sp.file == "companion.pmo" and d.severity == "error":
            raise Failure(f"error in the unmodified companion file: {d.render()}")
        if not d.message or "Traceback" in d.message:
            raise Failure(f"empty or raw diagnostic message: {d!r}")
        bare = re.sub(r"`[^`]*`", "", d.message)
        raw = [w for w in re.findall(r"[$A-Z_][A-Z0-9_]+", bare) if w in _terminal_names()]
        if raw:
            raise Failure(f"raw parser token name {raw[0]} in a message: {d.message}")
    bad = _UNSAFE.search(rendered)
    if bad:
        line = rendered[rendered.rfind("\n", 0, bad.start()) + 1: rendered.find("\n", bad.start())]
        raise Failure(f"raw control character U+{ord(bad.group()):04X} in the rendered diagnostics: {line[:300]!r}")
    errors = [d for d in dl.items if d.severity == "error"]
    if audit_data is not None and module is not None and not errors:
        _audit(program, audit_data)
    if errors:
        heads = _WHERE.findall(rendered)
        if not heads:
            raise Failure(f"rendered diagnostics carry no file:line:col:\n{rendered[:500]}")
        return "diagnostics"
    return "ok"


def _audit(program, audit_data) -> None:
    """Evaluate a policy that checked: any exception (rather than `error` outcomes) fails.

    Runs outside the SIGALRM hang guard: the evaluator's own time limits use that signal."""
    import datetime as dt

    from pmo_rules import api
    from pmo_rules.evaluate.engine import IndexedEvaluator

    try:
        report = api.audit(program, audit_data, dt.date(2026, 11, 26),
                           evaluator=IndexedEvaluator(1, rule_seconds=10, run_seconds=30))
        for fmt in ("json", "text", "csv"):
            session().registry.formats[fmt].render(report, {}).encode("utf-8")
    except Exception as exc:  # noqa: BLE001
        raise Failure(f"audit of a policy that checked: {type(exc).__name__}: {exc}\n"
                      f"{traceback.format_exc(limit=-6)}") from None


# ------------------------------------------------------------------------- CLI --


def cli_check(data: bytes, workdir: Path, timeout: float = 60.0) -> str:
    """`pmo-rules check` on one file in a subprocess: exit 0, or 2 with located errors; no traceback."""
    import subprocess

    path = workdir / NAME
    path.write_bytes(data)
    proc = subprocess.run([sys.executable, "-m", "pmo_rules", "check", str(path)], capture_output=True,
                          timeout=timeout, cwd=workdir)
    err = proc.stderr.decode("utf-8", errors="replace")
    if "Traceback" in err or "internal error" in err:
        raise Failure(f"`pmo-rules check` printed a traceback (exit {proc.returncode}):\n{err[-2000:]}")
    if proc.returncode not in (0, 2):
        raise Failure(f"`pmo-rules check` exited {proc.returncode}:\n{err[-2000:]}")
    if proc.returncode == 2 and not re.search(rf"{re.escape(NAME)}:\d+:\d+: error\[", err):
        raise Failure(f"`pmo-rules check` exit 2 without file:line:col:\n{err[-2000:]}")
    return "ok" if proc.returncode == 0 else "diagnostics"


# ------------------------------------------------------------------------ main --


def random_case(rng: random.Random, pool: list[Seed], big_share: float = 1.0) -> tuple[str, bytes, str | None]:
    r = rng.random()
    if r < 0.08:
        n = rng.randrange(1, 200)
        return f"soup({n})", token_soup(rng, n), None
    if r < 0.1:
        return "bytes", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))), None
    seed = rng.choice(pool)
    other = rng.choice(pool).text
    steps = []
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4, 6])):
        idx = rng.randrange(len(MUTATORS))
        if MUTATORS[idx] in BIG and rng.random() > big_share:
            idx = MUTATORS.index(m_drop_token)
        steps.append((idx, rng.randrange(2**32)))
    desc = f"{seed.name} " + " ".join(f"{MUTATORS[i].__name__}:{s}" for i, s in steps)
    return desc, apply(seed.text, steps, other), seed.companion


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to run (default 60)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock)")
    ap.add_argument("--cli-every", type=int, default=0, metavar="N",
                    help="also run every Nth case through `pmo-rules check` in a subprocess")
    ap.add_argument("--audit", action="store_true",
                    help="also audit the bundled sample with every mutated policy that checks")
    ap.add_argument("--failures", default=str(REPO / "fuzz" / "failures"), help="where failing inputs are saved")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    pool = seeds()
    session()
    audit_data = None
    if args.audit:
        from pmo_rules import api

        audit_data = api.load_data([], session())
    fail_dir = Path(args.failures)
    outcomes: Counter = Counter()
    failures: list[tuple[str, str]] = []
    signatures: set[str] = set()
    start = time.monotonic()
    slowest = (0.0, "")
    cases = 0
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        while time.monotonic() - start < args.seconds:
            desc, data, companion = random_case(rng, pool)
            cases += 1
            t0 = time.monotonic()
            try:
                outcomes[check_case(data, companion, audit_data=audit_data)] += 1
                if args.cli_every and cases % args.cli_every == 0 and len(data) < 200_000:
                    outcomes["cli:" + cli_check(data, Path(tmp))] += 1
            except (Failure, Hang) as exc:
                outcomes["FAILURE"] += 1
                msg = str(exc)
                sig = type(exc).__name__ + ":" + msg.split("\n")[0][:120]
                if sig not in signatures:
                    signatures.add(sig)
                    fail_dir.mkdir(parents=True, exist_ok=True)
                    digest = hashlib.sha1(data).hexdigest()[:12]
                    (fail_dir / f"{digest}.pmo").write_bytes(data)
                    failures.append((desc, f"{msg}\n  input saved as {fail_dir / (digest + '.pmo')}"))
                    print(f"FAILURE in case {cases} ({desc}):\n  {msg}", flush=True)
            dt_ = time.monotonic() - t0
            if dt_ > slowest[0]:
                slowest = (dt_, desc)
            if cases % 500 == 0:
                print(f"... {cases} cases, {time.monotonic() - start:.0f} s, {dict(outcomes)}", flush=True)
    elapsed = time.monotonic() - start
    print(f"seed {seed}: {cases} cases in {elapsed:.0f} s ({cases / max(elapsed, 1e-9):.1f}/s); "
          f"outcomes {dict(outcomes)}; slowest case {slowest[0]:.2f} s ({slowest[1]})")
    print(f"{len(failures)} distinct failure(s)")
    for desc, msg in failures:
        print(f"- {desc}\n  {msg}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
