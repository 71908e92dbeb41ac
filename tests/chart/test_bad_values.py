"""Bad input is rejected at `helm template`/`install` time, with a message that says what to fix.

Schema errors (values.schema.json) name the value's path; template errors start with "ERROR:".
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from chart_helpers import CHART, ROOT

SET = "--set"
TZ_MESSAGE = "value must be 'a time zone name from the IANA tz database"
DNS_MESSAGE = "value must be 'a DNS label of at most 63 lower-case letters, digits and hyphens"
QUANTITY_MESSAGE = "value must be 'a Kubernetes quantity of at least 0, such as 100m, 0.5, 2"
TAG_MESSAGE = "value must be 'a Docker tag: up to 128 letters, digits, underscores, dots"
BAD = [
    # (id, helm args, substrings of the message)
    (
        "cron-4-fields",
        [SET, "jobs.health-check.schedule=*/30 * * *"],
        ['jobs.health-check.schedule: "*/30 * * *" has 4 fields; a cron schedule has 5'],
    ),
    (
        "cron-minute-range",
        [SET, "jobs.health-check.schedule=61 * * * *"],
        ['the minute field "61" is out of range: minute is 0-59'],
    ),
    (
        "cron-hour-range",
        [SET, "jobs.cleanup-old-sessions.schedule=0 24 * * *"],
        ["jobs.cleanup-old-sessions.schedule", 'hour field "24" is out of range: hour is 0-23'],
    ),
    (
        "cron-dom-zero",
        [SET, "jobs.health-check.schedule=0 0 0 * *"],
        ["day-of-month is 1-31"],
    ),
    (
        "cron-dow-7",
        [SET, "jobs.health-check.schedule=0 0 * * 7"],
        ["day-of-week is 0-6 (0 = Sunday) or SUN-SAT"],
    ),
    (
        "cron-month-name",
        [SET, "jobs.health-check.schedule=0 0 * FOO *"],
        ['"FOO" is not a number or a name; month is 1-12 or JAN-DEC'],
    ),
    (
        "cron-reversed-range",
        [SET, "jobs.health-check.schedule=0 5-2 * * *"],
        ["has a range whose start is after its end"],
    ),
    (
        "cron-step-zero",
        [SET, "jobs.health-check.schedule=*/0 * * * *"],
        ["has a step of 0; a step must be at least 1"],
    ),
    (
        "cron-syntax",
        [SET, "jobs.health-check.schedule=0 0 * * mon;tue"],
        ["is not valid cron syntax"],
    ),
    (
        "cron-question-mark-in-hour",
        [SET, "jobs.health-check.schedule=0 ? * * *"],
        ["allowed only in the day-of-month and day-of-week fields"],
    ),
    (
        "cron-every-macro",
        [SET, "jobs.health-check.schedule=@every 5m"],
        [
            '"@every 5m" is not a cron schedule for this chart: Kubernetes accepts `@every`',
            "never runs it when startingDeadlineSeconds is shorter than the interval",
            "set jobs.health-check.every instead (e.g. every: 15m)",
        ],
    ),
    (
        # Kubernetes accepts it; the controller never runs it (InvalidSchedule).
        "cron-never-fires",
        [SET, "jobs.health-check.schedule=0 0 30 2 *"],
        ['"0 0 30 2 *" never fires', "choose days those months have"],
    ),
    (
        "cron-tz-prefix",
        [SET, "jobs.health-check.schedule=CRON_TZ=Europe/Paris 0 0 * * *"],
        ["set jobs.health-check.timeZone instead"],
    ),
    (
        "no-schedule",
        [SET, "jobs.health-check.schedule=null"],
        ["jobs.health-check has neither `schedule` nor `every`"],
    ),
    (
        "every-7m",
        [SET, "jobs.health-check.every=7m"],
        [
            'jobs.health-check.every: "7m" cannot be expressed evenly as a cron schedule',
            "minutes that divide 60",
        ],
    ),
    (
        "every-5h",
        [SET, "jobs.health-check.every=5h"],
        ['"5h" cannot be expressed evenly', "hours that divide 24"],
    ),
    (
        "every-90m",
        [SET, "jobs.health-check.every=90m"],
        ['"90m" cannot be expressed evenly'],
    ),
    ("every-3d", [SET, "jobs.health-check.every=3d"], ['"3d" cannot be expressed evenly']),
    (
        "every-no-unit",
        [SET, "jobs.health-check.every=15 minutes"],
        ["/jobs/health-check/every", "does not match pattern"],
    ),
    (
        "unknown-key-in-job",
        [SET, "jobs.health-check.scheduel=0 0 * * *"],
        ["/jobs/health-check", "additional properties 'scheduel' not allowed"],
    ),
    (
        "unknown-top-level-key",
        [SET, "jbos.health-check.suspend=true"],
        ["additional properties 'jbos' not allowed"],
    ),
    (
        "subcommand-not-a-name",
        [SET, "jobs.nightly.subcommand=vacuum;rm", SET, "jobs.nightly.schedule=@daily"],
        ["/jobs/nightly/subcommand", "does not match"],
    ),
    (
        "job-name-not-dns",
        [SET, "jobs.Health_Check.schedule=@daily"],
        [
            'job key "Health_Check" is not a valid name',
            "lower-case letters, digits and '-'",
            '(e.g. "health-check")',
        ],
    ),
    (
        "concurrency-policy",
        [SET, "jobs.health-check.concurrencyPolicy=Sometimes"],
        [
            "/jobs/health-check/concurrencyPolicy",
            "value must be one of 'Forbid', 'Allow', 'Replace'",
        ],
    ),
    (
        "default-concurrency-policy",
        [SET, "jobDefaults.concurrencyPolicy=forbid"],
        ["/jobDefaults/concurrencyPolicy", "value must be one of"],
    ),
    (
        "negative-starting-deadline",
        [SET, "jobs.health-check.startingDeadlineSeconds=-1"],
        ["/jobs/health-check/startingDeadlineSeconds", "minimum: got -1, want 10"],
    ),
    (
        # Below 10 s the controller (which looks every 10 s) may never start a run.
        "starting-deadline-under-10s",
        [SET, "jobs.health-check.startingDeadlineSeconds=5"],
        ["/jobs/health-check/startingDeadlineSeconds", "minimum: got 5, want 10"],
    ),
    (
        "starting-deadline-zero",
        [SET, "jobDefaults.startingDeadlineSeconds=0"],
        ["/jobDefaults/startingDeadlineSeconds", "minimum: got 0, want 10"],
    ),
    (
        "zero-active-deadline",
        [SET, "jobDefaults.activeDeadlineSeconds=0"],
        ["/jobDefaults/activeDeadlineSeconds", "minimum: got 0, want 1"],
    ),
    (
        "negative-ttl",
        [SET, "jobs.health-check.ttlSecondsAfterFinished=-5"],
        ["/jobs/health-check/ttlSecondsAfterFinished", "minimum"],
    ),
    (
        "time-zone-not-iana",
        [SET, "jobs.health-check.timeZone=Mars/Olympus_Mons"],
        ["/jobs/health-check/timeZone", TZ_MESSAGE],
    ),
    (
        "time-zone-misspelt",
        [SET, "jobs.health-check.timeZone=Europe/Paaris"],
        ["at '/jobs/health-check/timeZone': " + TZ_MESSAGE],
    ),
    ("time-zone-abbreviation", [SET, "jobDefaults.timeZone=CEST"], ["/jobDefaults/timeZone"]),
    ("time-zone-local", [SET, "jobDefaults.timeZone=Local"], ["/jobDefaults/timeZone"]),
    ("time-zone-factory", [SET, "jobDefaults.timeZone=Factory"], ["/jobDefaults/timeZone"]),
    (
        "existing-secret-without-name",
        [SET, "connection.mode=existingSecret"],
        [
            'connection.mode is "existingSecret" but connection.existingSecret is empty',
            "set it to the name of the Secret",
        ],
    ),
    (
        "connection-mode",
        [SET, "connection.mode=vault"],
        ["/connection/mode", "value must be one of 'existingSecret', 'chartSecret'"],
    ),
    (
        "alert-window",
        [SET, "jobs.health-check.alerts.noSuccessWindow=1.5h"],
        ["/jobs/health-check/alerts/noSuccessWindow", "does not match pattern"],
    ),
    (
        # In a values file, `tag: 1.10` is the number 1.1: rejected, saying how to quote it.
        "image-tag-decimal-number",
        ["--set-json", "image.tag=1.10"],
        ["at '/image/tag'", "quote a tag with a dot", "--set-string image.tag=1.10"],
    ),
    ("image-tag-bool", [SET, "image.tag=true"], ["at '/image/tag'", "a string or a whole number"]),
    (
        "image-digest-not-sha256",
        [SET, "image.digest=latest"],
        ["at '/image/digest'", "does not match pattern"],
    ),
    (
        # Leading zeros are decimal, as Kubernetes reads them (not octal: 070 is 70, not 56).
        "cron-leading-zero-70",
        [SET, "jobs.health-check.schedule=070 * * * *"],
        ['the minute field "070" is out of range: minute is 0-59'],
    ),
    (
        # Not an octal number at all: it must not be read as 0.
        "cron-leading-zero-99",
        [SET, "jobs.health-check.schedule=099 * * * *"],
        ['the minute field "099" is out of range: minute is 0-59'],
    ),
    (
        "cron-leading-zero-hour",
        [SET, "jobs.cleanup-old-sessions.schedule=0 024 * * *"],
        ['the hour field "024" is out of range: hour is 0-23'],
    ),
    (
        "cron-many-digits",
        [SET, "jobs.health-check.schedule=100000000000000000059 * * * *"],
        ["is out of range: minute is 0-59"],
    ),
    (
        "cron-whitespace-only",
        [SET, "jobs.health-check.schedule=  "],
        ["ERROR: jobs.health-check.schedule is empty: set a cron schedule of 5 fields"],
    ),
    (
        "expiry-schedule-whitespace-only",
        [SET, "controller.expiry.enabled=true", SET, "controller.expiry.schedule= "],
        ["ERROR: controller.expiry.schedule is empty"],
    ),
    (
        # Resource names must be DNS labels: UPPER-health-check would be refused by the API.
        "fullname-override-upper-case",
        [SET, "fullnameOverride=UPPER"],
        ["at '/fullnameOverride'", DNS_MESSAGE],
    ),
    (
        "name-override-underscore",
        [SET, "nameOverride=Bad_Name"],
        ["at '/nameOverride'", DNS_MESSAGE],
    ),
    (
        "name-override-trailing-dash",
        [SET, "nameOverride=maint-"],
        ["at '/nameOverride'", DNS_MESSAGE],
    ),
    (
        "name-override-too-long",
        [SET, "nameOverride=" + "a" * 64],
        ["at '/nameOverride'", "maxLength: got 64, want 63"],
    ),
    (
        "limit-memory-not-a-quantity",
        [SET, "jobs.health-check.resources.limits.memory=abc"],
        ["at '/jobs/health-check/resources/limits/memory'", QUANTITY_MESSAGE],
    ),
    (
        "limit-cpu-negative",
        [SET, "jobs.health-check.resources.limits.cpu=-1"],
        ["at '/jobs/health-check/resources/limits/cpu'", QUANTITY_MESSAGE],
    ),
    (
        "request-negative-string",
        ["--set-string", "jobDefaults.resources.requests.memory=-128Mi"],
        ["at '/jobDefaults/resources/requests/memory'", QUANTITY_MESSAGE],
    ),
    (
        "request-unknown-suffix",
        [SET, "jobDefaults.resources.requests.cpu=50mc"],
        ["at '/jobDefaults/resources/requests/cpu'", QUANTITY_MESSAGE],
    ),
    ("tmp-size-limit", [SET, "tmpSizeLimit=abc"], ["at '/tmpSizeLimit'", QUANTITY_MESSAGE]),
    ("tmp-size-limit-negative", [SET, "tmpSizeLimit=-1"], ["at '/tmpSizeLimit'", QUANTITY_MESSAGE]),
    (
        "serve-limit",
        [SET, "serve.enabled=true", SET, "serve.resources.limits.memory=lots"],
        ["at '/serve/resources/limits/memory'", QUANTITY_MESSAGE],
    ),
    (
        "expiry-request",
        [SET, "controller.expiry.resources.requests.cpu=-10m"],
        ["at '/controller/expiry/resources/requests/cpu'", QUANTITY_MESSAGE],
    ),
    (
        # It would render image: "cronjobs:bad:tag".
        "image-tag-colon",
        ["--set-string", "image.tag=bad:tag"],
        ["at '/image/tag'", TAG_MESSAGE],
    ),
    (
        "image-tag-leading-dot",
        ["--set-string", "image.tag=.1"],
        ["at '/image/tag'", TAG_MESSAGE],
    ),
    ("image-tag-too-long", ["--set-string", "image.tag=" + "a" * 129], [TAG_MESSAGE]),
    ("image-tag-negative", [SET, "image.tag=-1"], ["at '/image/tag'", "minimum: got -1, want 0"]),
    (
        "job-image-tag-digest",
        ["--set-string", "jobs.health-check.image.tag=1.0@sha256:abc"],
        ["at '/jobs/health-check/image/tag'", TAG_MESSAGE],
    ),
    (
        "serve-image-tag",
        [SET, "serve.image.repository=dash", "--set-string", "serve.image.tag=a b"],
        ["at '/serve/image/tag'", TAG_MESSAGE],
    ),
    (
        "job-image-digest",
        [SET, "jobs.health-check.image.digest=sha256:abc"],
        ["at '/jobs/health-check/image/digest'", "does not match pattern"],
    ),
    (
        # jobDefaults has nothing to fall back to: it would render backoffLimit 0, timeZone "".
        "job-defaults-null",
        [SET, "jobDefaults.backoffLimit=null"],
        ["at '/jobDefaults'", "missing property 'backoffLimit'"],
    ),
    (
        "job-defaults-time-zone-null",
        [SET, "jobDefaults.timeZone=null"],
        ["at '/jobDefaults'", "missing property 'timeZone'"],
    ),
    (
        "args-not-strings",
        [
            SET,
            "jobs.health-check.args[0]=--timeout",
            SET,
            "jobs.health-check.args[1]=5",
        ],
        ["/jobs/health-check/args/1", "got number, want string"],
    ),
]


@pytest.mark.parametrize(("args", "messages"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_values_are_rejected_with_a_message(
    render_error: Callable[..., str], args: list[str], messages: list[str]
) -> None:
    error = render_error(*args)
    for message in messages:
        assert message in error


def test_template_errors_say_error(render_error: Callable[..., str]) -> None:
    assert "ERROR: jobs.health-check.every" in render_error(SET, "jobs.health-check.every=7m")


@pytest.mark.parametrize(
    ("value", "where", "suggestion"),
    [
        ("fullnameOverride=UPPER", "fullnameOverride", "upper"),
        ("nameOverride=Bad_Name", "nameOverride", "bad-name"),
    ],
)
def test_bad_name_overrides_are_rejected_without_the_schema_too(
    render_error: Callable[..., str], value: str, where: str, suggestion: str
) -> None:
    """The templates check what the schema checks (as for job keys), with a name to use."""
    error = render_error("--skip-schema-validation", SET, value)
    bad = value.split("=", 1)[1]
    assert f'ERROR: {where} "{bad}" is not a valid name' in error
    assert "lower-case letters, digits and '-'" in error
    assert f'(e.g. "{suggestion}")' in error


@pytest.mark.parametrize("value", ["maint", "maint-eu-1", "a", "9lives"])
def test_dns_label_overrides_are_accepted(render: Callable[..., list], value: str) -> None:
    docs = render(SET, f"nameOverride={value}", SET, f"fullnameOverride={value}")
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "CronJob"}
    assert f"{value}-health-check" in names
    (cj,) = [d for d in docs if d["metadata"]["name"] == f"{value}-health-check"]
    assert cj["metadata"]["labels"]["app.kubernetes.io/name"] == value


def test_quantities_in_every_form_kubernetes_reads_are_accepted(
    render: Callable[..., list], tmp_path: Path
) -> None:
    """Strings with suffixes or exponents, and plain numbers (a values file's 0.5 or 2)."""
    values = tmp_path / "values.yaml"
    values.write_text(
        "tmpSizeLimit: 1Gi\n"
        "jobs:\n"
        "  health-check:\n"
        "    resources:\n"
        "      requests: {cpu: 0.5, memory: 1e8, ephemeral-storage: .5Gi}\n"
        "      limits: {cpu: 2, memory: 1Gi, hugepages-2Mi: 0}\n"
    )
    docs = render("-f", str(values), SET, "jobs.cleanup-old-sessions.resources.limits.cpu=1500m")
    cronjobs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "CronJob"}
    pod = cronjobs["cronjobs-health-check"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"] == {
        "requests": {"cpu": 0.5, "memory": 100000000, "ephemeral-storage": ".5Gi"},
        "limits": {"cpu": 2, "memory": "1Gi", "hugepages-2Mi": 0},
    }
    assert pod["volumes"][0]["emptyDir"] == {"sizeLimit": "1Gi"}
    other = cronjobs["cronjobs-cleanup-old-sessions"]["spec"]["jobTemplate"]["spec"]["template"]
    assert other["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "1500m"


@pytest.mark.parametrize("tag", ["1.2.3", "v1.2.3-rc.1_build", "_x", "latest", "A" * 128])
def test_docker_tags_are_accepted(render: Callable[..., list], tag: str) -> None:
    docs = render("--set-string", f"image.tag={tag}", "--show-only", "templates/cronjob.yaml")
    assert _images(docs) == {f"cronjobs:{tag}"}


def test_too_long_name_with_a_long_release_name(render_error: Callable[..., str]) -> None:
    error = render_error(release="maintenance-production-eu1")
    assert (
        'CronJob name "maintenance-production-eu1-cronjobs-aggregate-daily-analytics" is 61 '
        "characters; Kubernetes allows 52"
    ) in error
    assert "Shorten the release name, set fullnameOverride" in error


def test_long_release_name_fits_with_fullname_override(render: Callable[..., list]) -> None:
    docs = render(SET, "fullnameOverride=maint", release="maintenance-production-eu1")
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "CronJob"}
    assert "maint-aggregate-daily-analytics" in names


@pytest.mark.parametrize(
    "schedule",
    [
        "0 0 ? * MON-FRI",
        "0 0 1,15 JAN-jun/2 *",
        "5/10 * * * *",
        "0 9-17/2 * * 1-5",
        "@weekly",
        "@midnight",
        "0  2  *  *  *",
        "05 09 * * *",  # leading zeros are decimal: 09:05
    ],
)
def test_valid_cron_forms_are_accepted(render: Callable[..., list], schedule: str) -> None:
    docs = render(
        SET,
        f"jobs.health-check.schedule={schedule}".replace(",", "\\,"),
        "--show-only",
        "templates/cronjob.yaml",
    )
    (cj,) = [d for d in docs if d["metadata"]["name"] == "cronjobs-health-check"]
    assert cj["spec"]["schedule"] == schedule.strip()


@pytest.mark.parametrize(
    "zone",
    [
        "UTC",
        "Etc/UTC",
        "Etc/GMT+5",
        "Europe/Paris",
        "America/Argentina/Buenos_Aires",
        "America/Port-au-Prince",
        "Antarctica/DumontDUrville",
        "GMT",  # legacy names the API server loads, too
        "US/Eastern",
    ],
)
def test_iana_time_zones_are_accepted(render: Callable[..., list], zone: str) -> None:
    docs = render(SET, f"jobDefaults.timeZone={zone}", "--show-only", "templates/cronjob.yaml")
    assert {d["spec"]["timeZone"] for d in docs} == {zone}


def test_a_bad_time_zone_message_is_short_and_names_the_key(
    render_error: Callable[..., str],
) -> None:
    """The schema holds ~600 names: the error says what is wrong without listing them."""
    error = render_error(SET, "jobDefaults.timeZone=Europe/Paaris")
    assert "at '/jobDefaults/timeZone': " + TZ_MESSAGE in error
    assert "Africa/Abidjan" not in error
    assert len(error) < 500


def test_schema_time_zones_match_the_tz_database() -> None:
    """The schema's list is what charts/time_zones.py generates from zoneinfo. A machine with a
    newer tz database may know a few zones more (regenerate then); it must know every listed one."""
    module = _load_script("time_zones")
    schema = json.loads((CHART / "values.schema.json").read_text())
    names = schema["$defs"]["ianaTimeZone"]["enum"]
    machine = set(module.zones())
    assert names == sorted(names) and set(names) <= machine
    assert len(machine - set(names)) <= 5, "stale list: run .venv/bin/python charts/time_zones.py"
    assert {"Etc/UTC", "Europe/Paris", "GMT", "US/Eastern"} <= set(names)
    assert not {"Local", "localtime", "Factory"} & set(names)
    assert not [n for n in names if n.startswith(("posix/", "right/"))]


def test_a_stale_time_zone_list_is_caught() -> None:
    module = _load_script("time_zones")
    text = (CHART / "values.schema.json").read_text()
    stale = text.replace('"Europe/Paris",\n', "", 1)
    assert stale != text
    assert module.updated(stale) == text


def _images(docs: list) -> set[str]:
    return {
        d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] for d in docs
    }


def test_image_tag_as_a_string(render: Callable[..., list]) -> None:
    docs = render("--set-string", "image.tag=1.10", "--show-only", "templates/cronjob.yaml")
    assert _images(docs) == {"cronjobs:1.10"}


@pytest.mark.parametrize("tag", ["2", "20240101", "1700000000"])
def test_a_whole_number_tag_works_with_plain_set(
    render: Callable[..., list], tag: str, tmp_path: Path
) -> None:
    """`--set image.tag=2` (helm reads an int) and `tag: 2` in a values file (a float) both
    render the tag as written, not "got number" nor 2e+07."""
    docs = render(SET, f"image.tag={tag}", "--show-only", "templates/cronjob.yaml")
    assert _images(docs) == {f"cronjobs:{tag}"}
    values = tmp_path / "values.yaml"
    values.write_text(f"image:\n  tag: {tag}\n")
    docs = render("-f", str(values), "--show-only", "templates/cronjob.yaml")
    assert _images(docs) == {f"cronjobs:{tag}"}


def test_image_digest_pins_the_image(render: Callable[..., list]) -> None:
    digest = "sha256:" + "0123456789abcdef" * 4
    docs = render(SET, f"image.digest={digest}", "--show-only", "templates/cronjob.yaml")
    assert _images(docs) == {f"cronjobs:0.1.0@{digest}"}


def _load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "charts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
