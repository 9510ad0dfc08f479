"""Mutation run over tlscap/analysis, tlscap/tls and tlscap/report: does a test fail when behaviour breaks?

Each mutant changes one expression of one module (a comparison turned round, `and` for `or`, a `not`
dropped, an integer moved by one, an `if` that is never taken, a `return` of None), in a copy of the tree;
a mutant is *killed* when the tests fail (or run past the time limit) on it. Mutants are drawn at random
(seeded) from every candidate of the three packages, so the run can be sized to the time at hand.

    python tests/mutation_run.py --mutants 150 --seed 1 --out /tmp/mutation.tsv

The tests run on a mutant are TESTS below, quickest-to-fail first, with `-x`: the goldens (every sample
rendered to JSON alone, with keys, with truststores) and the unit tests of the three packages; the slowest
files of the suite (record-size agreement over every sample, tshark frame checks, live servers) are left out,
so a survivor here may still be killed by the whole suite. A survivor is
either a gap in the tests or an equivalent mutant (one that changes no behaviour); the TSV lists each with
its line so that a person can tell which.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tlscap/analysis", "tlscap/tls", "tlscap/report")
TESTS = (
    "tests/test_golden.py",
    "tests/test_mutation_guards.py",
    "tests/test_verdict_cases.py",
    "tests/test_timeline.py",
    "tests/test_mtls_rules.py",
    "tests/test_tls_messages.py",
    "tests/test_tls_framing.py",
    "tests/test_fingerprint.py",
    "tests/test_client_stacks.py",
    "tests/test_decrypt.py",
    "tests/test_keylog.py",
    "tests/test_reports_formats.py",
    "tests/test_report_writers.py",
    "tests/test_json_fragments.py",
    "tests/test_output_safety.py",
    "tests/test_terminal.py",
    "tests/test_findings_samples.py",
    "tests/test_truststore_findings.py",
    "tests/test_verdicts_samples.py",
    "tests/test_dtls.py",
    "tests/test_dtls_samples.py",
    "tests/test_dtls_decrypt.py",
)

_FLIP_COMPARE = {ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq,
                 ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


@dataclass(frozen=True)
class Mutant:
    path: str
    line: int
    kind: str
    index: int  # which candidate of this kind in the module, in walk order

    def label(self) -> str:
        return f"{self.path}:{self.line} {self.kind}"


def _int_candidate(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """An integer literal in a function's logic: not an index, not in a module-level table (the tables of
    protocol numbers are data, checked against their registries)."""
    if not (isinstance(node, ast.Constant) and type(node.value) is int) or isinstance(parents.get(node), ast.Subscript):
        return False
    parent = parents.get(node)
    while parent is not None:
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return True
        parent = parents.get(parent)
    return False


def candidates(path: Path) -> list[Mutant]:
    """Every mutation of one module, as (line, kind, index among the nodes of that kind)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: list[Mutant] = []
    counts: dict[str, int] = {}
    rel = str(path.relative_to(ROOT))

    def add(node: ast.AST, kind: str) -> None:
        index = counts.get(kind, 0)
        counts[kind] = index + 1
        found.append(Mutant(rel, getattr(node, "lineno", 0), kind, index))

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _FLIP_COMPARE:
            add(node, "compare")
        elif isinstance(node, ast.BoolOp):
            add(node, "boolop")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            add(node, "not")
        elif _int_candidate(node, parents):
            add(node, "int")
        elif isinstance(node, ast.If):
            add(node, "if-never")
        elif _kind_of(node) == "return-none":
            add(node, "return-none")
    return found


def mutate_source(source: str, mutant: Mutant) -> str:
    tree = ast.parse(source)
    if mutant.kind == "int":
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        ints = [n for n in ast.walk(tree) if _int_candidate(n, parents)]
        target = ints[mutant.index]
        target.value = target.value + 1
    else:
        # Walk order of ast.walk (breadth first) and of the transformer (depth first) differ: index the
        # candidates of this kind by ast.walk, then mark that node and transform only it.
        nodes = [n for n in ast.walk(tree) if _kind_of(n) == mutant.kind]
        marked = nodes[mutant.index]
        tree = _TransformOne(marked).visit(tree)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


def _kind_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _FLIP_COMPARE:
        return "compare"
    if isinstance(node, ast.BoolOp):
        return "boolop"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return "not"
    if isinstance(node, ast.If):
        return "if-never"
    if (isinstance(node, ast.Return) and node.value is not None
            and not (isinstance(node.value, ast.Constant) and node.value.value is None)):
        return "return-none"  # (a `return None` made to return None would be no mutation at all)
    return None


class _TransformOne(ast.NodeTransformer):
    def __init__(self, target: ast.AST) -> None:
        self.target = target

    def generic_visit(self, node: ast.AST) -> ast.AST:
        is_target = node is self.target
        node = super().generic_visit(node)
        if not is_target:
            return node
        if isinstance(node, ast.Compare):
            node.ops = [_FLIP_COMPARE[type(node.ops[0])]()]
        elif isinstance(node, ast.BoolOp):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif isinstance(node, ast.UnaryOp):
            return node.operand
        elif isinstance(node, ast.If):
            node.test = ast.Constant(False)
        elif isinstance(node, ast.Return):
            node.value = ast.Constant(None)
        return node


def run_tests(tree: Path, timeout: float) -> tuple[str, float]:
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *TESTS],
                              cwd=tree, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "killed (timeout)", time.monotonic() - started
    status = "survived" if done.returncode == 0 else "killed"
    return status, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--out", default="mutation.tsv")
    args = parser.parse_args()
    modules = sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))
    pool = [m for path in modules for m in candidates(path)]
    chosen = random.Random(args.seed).sample(pool, min(args.mutants, len(pool)))
    with tempfile.TemporaryDirectory(prefix="tlscap-mutation-") as scratch:
        tree = Path(scratch) / "tree"
        tree.mkdir()
        # The committed tree (HEAD), not the working one: edits in progress are not mutated.
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        os.symlink(ROOT.parent / "shared", Path(scratch) / "shared")
        baseline, seconds = run_tests(tree, args.timeout)
        print(f"unmutated tree: {baseline} ({seconds:.0f} s) of {len(pool)} candidates, {len(chosen)} drawn")
        if baseline != "survived":
            print("the tests fail without a mutation: fix that first")
            return 2
        with open(args.out, "w", encoding="utf-8") as out:
            out.write("module\tline\tkind\tresult\tseconds\tsource line\n")
            killed = 0
            for number, mutant in enumerate(chosen, 1):
                target = tree / mutant.path
                original = target.read_text(encoding="utf-8")
                try:
                    target.write_text(mutate_source(original, mutant), encoding="utf-8")
                    result, seconds = run_tests(tree, args.timeout)
                finally:
                    target.write_text(original, encoding="utf-8")
                killed += result.startswith("killed")
                line = original.splitlines()[mutant.line - 1].strip() if mutant.line else ""
                out.write(f"{mutant.path}\t{mutant.line}\t{mutant.kind}\t{result}\t{seconds:.0f}\t{line}\n")
                out.flush()
                print(f"[{number}/{len(chosen)}] {mutant.label()}: {result} ({seconds:.0f} s)", flush=True)
    print(f"killed {killed} of {len(chosen)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
