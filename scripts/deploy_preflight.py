"""Checks that run before anything is deployed; the first failure stops the deploy with its
reason (exit 1), so a broken file, an unset project or a missing secret never reaches production.

    python scripts/deploy_preflight.py --project ID [--rules] [--indexes] [--functions]
        [--dry-run]

--rules      firestore.rules parses (scripts/firestore_rules.py, a lark grammar)
--indexes    firestore.indexes.json is JSON with the shape the Firebase CLI deploys
--functions  firebase.json names our codebase (never `default`, the app's Node functions),
             functions/.env (or .env.PROJECT) sets WHATSAPP_BACKEND_BASE_URL, and the secret
             WHATSAPP_DAEMON_TOKEN exists in the project (asked of the Firebase CLI; a dry run
             prints the command instead)
The project id is always required: `--project`, else FIREBASE_PROJECT. Never the CLI's
`firebase use` default, which may point at another project.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from firestore_rules import Rules, RulesSyntaxError

ROOT = Path(__file__).resolve().parents[1]
PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
SECRETS = ("WHATSAPP_DAEMON_TOKEN",)
ENV_VARS = ("WHATSAPP_BACKEND_BASE_URL",)
APP_CODEBASE = "default"  # the app's Node functions live there (CONTRACT.md)
SCOPES = {"COLLECTION", "COLLECTION_GROUP"}
ORDERS = {"ASCENDING", "DESCENDING"}


class PreflightError(Exception):
    """A reason not to deploy."""


def project_id(explicit: str | None) -> str:
    value = (explicit or os.environ.get("FIREBASE_PROJECT") or "").strip()
    if not value:
        raise PreflightError(
            "no Firebase project id: pass --project ID (or set FIREBASE_PROJECT); the CLI's "
            "`firebase use` default is never assumed"
        )
    if not PROJECT_ID.match(value):
        raise PreflightError(f"not a Firebase project id: {value!r}")
    return value


def check_rules(path: Path) -> str:
    try:
        rules = Rules(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PreflightError(f"{path.name}: cannot read: {exc.strerror}") from None
    except RulesSyntaxError as exc:
        raise PreflightError(f"{path.name} does not parse: {exc}") from None
    return f"{path.name}: parses, {len(rules.allows)} allow statements"


def check_indexes(path: Path) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PreflightError(f"{path.name}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise PreflightError(f"{path.name} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("indexes"), list):
        raise PreflightError(f'{path.name}: needs an "indexes" list')
    for n, index in enumerate(data["indexes"]):
        where = f"{path.name}: indexes[{n}]"
        if not isinstance(index, dict) or not isinstance(index.get("collectionGroup"), str):
            raise PreflightError(f"{where}: needs a collectionGroup")
        if index.get("queryScope") not in SCOPES:
            raise PreflightError(f"{where}: queryScope must be one of {sorted(SCOPES)}")
        fields = index.get("fields")
        if not isinstance(fields, list) or len(fields) < 2:
            raise PreflightError(f"{where}: a composite index needs two fields or more")
        for field in fields:
            if not isinstance(field, dict) or not isinstance(field.get("fieldPath"), str):
                raise PreflightError(f"{where}: every field needs a fieldPath")
            if field.get("order") not in ORDERS and field.get("arrayConfig") != "CONTAINS":
                raise PreflightError(f"{where}: {field.get('fieldPath')}: order or arrayConfig")
    overrides = data.get("fieldOverrides", [])
    if not isinstance(overrides, list):
        raise PreflightError(f"{path.name}: fieldOverrides must be a list")
    for n, override in enumerate(overrides):
        where = f"{path.name}: fieldOverrides[{n}]"
        if not isinstance(override, dict) or not all(
            isinstance(override.get(k), str) for k in ("collectionGroup", "fieldPath")
        ):
            raise PreflightError(f"{where}: needs collectionGroup and fieldPath")
        if not isinstance(override.get("indexes"), list):
            raise PreflightError(f"{where}: needs an indexes list")
    return f"{path.name}: {len(data['indexes'])} indexes, {len(overrides)} field overrides"


def our_codebase(config_path: Path) -> str:
    """The codebase of our Python functions in firebase.json; it must not be the app's."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PreflightError(f"{config_path.name}: unreadable: {exc}") from None
    section = config.get("functions")
    entries = section if isinstance(section, list) else [section]
    ours = [e for e in entries if isinstance(e, dict) and e.get("source") == "functions"]
    if len(ours) != 1:
        raise PreflightError(f"{config_path.name}: needs one functions entry for functions/")
    codebase = ours[0].get("codebase") or APP_CODEBASE
    if codebase == APP_CODEBASE:
        raise PreflightError(
            f"{config_path.name}: our codebase is `{APP_CODEBASE}`, the app's Node functions' "
            "codebase: a deploy would delete them"
        )
    if len(entries) != 1:
        raise PreflightError(f"{config_path.name}: only our codebase belongs here")
    return str(codebase)


def env_values(functions_dir: Path, project: str) -> dict[str, str]:
    """functions/.env then functions/.env.PROJECT (the later wins), as the CLI reads them."""
    values: dict[str, str] = {}
    for name in (".env", f".env.{project}"):
        path = functions_dir / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip().strip("'\"")
    return values


def check_functions_config(functions_dir: Path, project: str) -> str:
    values = env_values(functions_dir, project)
    missing = [name for name in ENV_VARS if not values.get(name)]
    if missing:
        raise PreflightError(
            f"{', '.join(missing)} not set in {functions_dir.name}/.env or .env.{project}: "
            "the proxy would answer 500 configuration_missing"
        )
    return f"{functions_dir.name}/.env: {', '.join(ENV_VARS)} set"


def secret_commands(firebase: list[str], project: str) -> list[list[str]]:
    return [
        [*firebase, "functions:secrets:get", name, "--project", project, "--non-interactive"]
        for name in SECRETS
    ]


def check_secrets(firebase: list[str], project: str, dry_run: bool) -> list[str]:
    lines = []
    for command in secret_commands(firebase, project):
        name = command[len(firebase) + 1]
        if dry_run:
            lines.append(f"would check secret {name}: {' '.join(command)}")
            continue
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PreflightError(f"cannot ask the Firebase CLI about {name}: {exc}") from None
        if done.returncode != 0:
            raise PreflightError(
                f"secret {name} is missing in project {project} (set it with `firebase "
                f"functions:secrets:set {name} --project {project}`)"
            )
        lines.append(f"secret {name}: present")
    return lines


def run(args: Checks) -> list[str]:
    root: Path = args.root
    project = project_id(args.project)
    firebase = (os.environ.get("FIREBASE_BIN") or str(ROOT / "node_modules/.bin/firebase")).split()
    report = [f"project: {project}"]
    if args.rules:
        report.append(check_rules(root / "firestore.rules"))
    if args.indexes:
        report.append(check_indexes(root / "firestore.indexes.json"))
    if args.functions:
        report.append(f"functions codebase: {our_codebase(root / 'firebase.json')}")
        report.append(check_functions_config(root / "functions", project))
        report.extend(check_secrets(firebase, project, args.dry_run))
    return report


@dataclass(frozen=True)
class Checks:
    project: str | None
    rules: bool = False
    indexes: bool = False
    functions: bool = False
    dry_run: bool = False
    root: Path = ROOT


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
Flag = Annotated[bool, typer.Option()]


@app.command(help=(__doc__ or "").split("\n")[0])
def preflight(
    project: Annotated[str | None, typer.Option(help="else FIREBASE_PROJECT")] = None,
    rules: Flag = False,
    indexes: Flag = False,
    functions: Flag = False,
    dry_run: Flag = False,
    print_codebase: Annotated[bool, typer.Option(help="print it and exit")] = False,
    root: Annotated[Path | None, typer.Option(help="the checkout [default: this one]")] = None,
) -> None:
    try:
        root = root or ROOT
        if print_codebase:
            print(our_codebase(root / "firebase.json"))
            return
        for line in run(Checks(project, rules, indexes, functions, dry_run, root)):
            print(f"preflight: {line}")
    except PreflightError as exc:
        print(f"preflight failed, nothing deployed: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, prog_name="deploy_preflight.py", standalone_mode=True)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
