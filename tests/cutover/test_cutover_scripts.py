"""scripts/cutover.py, scripts/deploy_preflight.py and the bucketed deploy, run as an operator
runs them (in a copy of the checkout, with a stand-in Firebase CLI that records its calls):
the exact commands and their order, only our codebase ever deployed, and bad input stopping
everything before a deploy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cutover.checkout import PROJECT, checkout_copy, functions_list, run_script
from tests.functions.test_deployed_folder import CALLABLE, HTTP, TRIGGER

CODEBASE = "whatsapp-crm"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return checkout_copy(tmp_path / "repo")


def commands(stdout: str) -> list[str]:
    return [line[2:] for line in stdout.splitlines() if line.startswith("$ ")]


def test_the_day_in_order_as_a_dry_run(checkout: Path) -> None:
    day = ["scripts/cutover.py", "day", "--project", PROJECT, "--dry-run"]
    done, calls = run_script(checkout, [*day, "--admin-email", "boss@example.com"])
    assert done.returncode == 0, done.stderr
    assert calls == [], "a dry run calls no Firebase command"
    cmds = commands(done.stdout)
    order = [
        next(i for i, c in enumerate(cmds) if marker in c)
        for marker in (
            "deploy_preflight.py",
            "systemctl stop whatsapp-backend",
            "import-sessions --from-dir /app/sessions --old-backend-stopped --store "
            "firestore://demo-cutover",
            "set-admin boss@example.com --project demo-cutover",
            "--only firestore:rules",
            "--only firestore:indexes",
            "functions:delete whatsapp --region us-central1",
            "firebase-deploy-functions-buckets.sh whatsapp-stub",
            "rebuild-client-stats --store firestore://demo-cutover",
            "systemctl start superparty-daemon",
            "cutover.py check-accounts",
        )
    ]
    assert order == sorted(order), cmds
    deletes = [c for c in cmds if "functions:delete" in c]
    assert deletes[0].split("functions:delete ")[1].startswith("whatsapp --region")
    deleted = {n for c in deletes for n in c.split("functions:delete ")[1].split(" --")[0].split()}
    assert deleted == HTTP | CALLABLE | TRIGGER
    # each bucket: its Node versions deleted right before ours deploy
    for delete, deploy in zip(deletes, [c for c in cmds if "buckets.sh" in c], strict=True):
        assert cmds.index(deploy) == cmds.index(delete) + 1
    assert "ROLLBACK POINT" in done.stdout
    assert not any("DELETE" in c or "/api/whatsapp/accounts" in c for c in cmds)


def test_the_functions_swap_for_real_deletes_only_the_node_versions(checkout: Path) -> None:
    """Run without --dry-run against the stand-in CLI: names already in our codebase are never
    deleted (a second run after a failure is safe), and every deploy names our codebase."""
    deployed = {"whatsapp": "default", "whatsappProxySend": "default", "chatWithAI": "default"}
    deployed |= {"whatsappProxyGetInbox": CODEBASE}  # already swapped by an earlier run
    done, calls = run_script(
        checkout,
        ["scripts/cutover.py", "functions", "--project", PROJECT],
        STUB_FUNCTIONS_JSON=functions_list(deployed),
    )
    assert done.returncode == 0, done.stderr + done.stdout
    deletes = [c for c in calls if c.startswith("functions:delete")]
    assert deletes == [
        f"functions:delete whatsapp --region us-central1 --force --project {PROJECT}",
        f"functions:delete whatsappProxySend --region us-central1 --force --project {PROJECT}",
    ]
    deploys = [c for c in calls if c.startswith("deploy")]
    assert len(deploys) == 4
    for call in deploys:
        only = re.search(r"--only (\S+)", call)
        assert only is not None and f"--project {PROJECT}" in call
        for target in only.group(1).split(","):
            assert target.startswith(f"functions:{CODEBASE}:"), call
    assert calls.index(deletes[0]) < calls.index(deploys[0])
    assert (checkout / "functions" / "shared" / "__init__.py").exists(), "shared/ vendored"


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        ("rules", "firestore.rules does not parse"),
        ("indexes", "firestore.indexes.json is not JSON"),
        ("index-shape", "queryScope must be one of"),
        ("project", "no Firebase project id"),
        ("secret", "secret WHATSAPP_DAEMON_TOKEN is missing in project demo-cutover"),
        ("backend-url", "WHATSAPP_BACKEND_BASE_URL not set"),
        ("codebase", "the app's Node functions' codebase"),
    ],
)
def test_bad_input_stops_before_anything_is_deployed(
    tmp_path: Path, breakage: str, reason: str
) -> None:
    checkout = checkout_copy(
        tmp_path / "repo", None if breakage == "backend-url" else "http://x:8080"
    )
    if breakage == "rules":
        rules = checkout / "firestore.rules"
        rules.write_text(
            rules.read_text().replace("allow read: if signedIn();", "allow read if", 1)
        )
    if breakage == "indexes":
        (checkout / "firestore.indexes.json").write_text('{"indexes": [')
    if breakage == "index-shape":
        path = checkout / "firestore.indexes.json"
        path.write_text(path.read_text().replace('"COLLECTION_GROUP"', '"EVERYWHERE"', 1))
    if breakage == "codebase":
        path = checkout / "firebase.json"
        path.write_text(path.read_text().replace(f'"{CODEBASE}"', '"default"'))
    project = [] if breakage == "project" else ["--project", PROJECT]
    for script in (["scripts/cutover.py", "day"], ["scripts/cutover.py", "functions"]):
        if breakage in ("rules", "indexes", "index-shape") and script[1] == "functions":
            continue  # the functions swap deploys neither file
        done, calls = run_script(
            checkout,
            [*script, *project],
            STUB_MISSING_SECRETS="WHATSAPP_DAEMON_TOKEN" if breakage == "secret" else "",
        )
        assert done.returncode == 1, (script, done.stdout)
        assert reason in done.stderr, done.stderr
        assert not [c for c in calls if not c.startswith("functions:secrets:get")], calls
        assert not (checkout / "functions" / "shared").exists(), "nothing vendored either"


def test_no_deploy_path_names_functions_without_our_codebase() -> None:
    """Scripts and operator docs never deploy a bare `functions` (or a name without our
    codebase): that would delete the app's Node functions or miss ours."""
    root = Path(__file__).resolve().parents[2]
    files = [*root.glob("scripts/*"), *root.glob("docs/*.md"), root / "README.md"]
    files.append(root / "functions" / "README.md")
    bare = re.compile(r"--only[ =]\"?[^\s\"]*\bfunctions(?!:whatsapp-crm:)(?:$|[,\s\"`]|:)")
    for path in files:
        if not path.is_file():
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "app's repository" in line or "bare" in line or "never" in line:
                continue  # the rollback (the app's own repo) and sentences warning against it
            assert not bare.search(line), f"{path.relative_to(root)}:{n}: {line.strip()}"
