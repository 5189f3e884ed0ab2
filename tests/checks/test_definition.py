"""Check definitions: what container labels define, and what validation accepts and refuses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from autoheal.checks.definition import CHECK_LABELS, CheckDefinition, from_labels


def labels(**values: str) -> dict[str, str]:
    return {f"autoheal.check.{key}": value for key, value in values.items()}


def error_locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple]:
    return [e["loc"] for e in exc.value.errors()]


# --- from labels -------------------------------------------------------------------------


def test_every_documented_label_is_read():
    assert sorted(CHECK_LABELS) == sorted(
        f"autoheal.check.{key}"
        for key in ("type", "port", "path", "status", "command", "interval", "timeout", "retries")
    )


def test_no_check_labels_define_no_check_and_no_problem():
    assert from_labels({"autoheal": "true", "com.example.other": "x"}) == (None, "")


def test_an_http_check_takes_its_port_and_path_from_the_labels():
    definition, problem = from_labels(labels(type="http", port="8080", path="/health"))

    assert problem == ""
    assert definition is not None
    assert (definition.check_type, definition.http_endpoint, definition.http_port) == ("http", "/health", 8080)
    assert definition.tcp_port is None


def test_an_http_check_without_a_path_label_checks_the_root():
    definition, problem = from_labels(labels(type="http", port="8080"))

    assert problem == ""
    assert definition is not None and definition.http_endpoint == "/"


def test_the_type_label_is_read_case_and_space_insensitively():
    definition, _ = from_labels(labels(type=" HTTP "))

    assert definition is not None and definition.check_type == "http"


def test_a_tcp_check_takes_the_port_label_as_its_tcp_port():
    definition, problem = from_labels(labels(type="tcp", port="9000"))

    assert problem == ""
    assert definition is not None
    assert (definition.check_type, definition.tcp_port) == ("tcp", 9000)
    assert definition.http_endpoint is None


def test_an_exec_command_is_split_like_a_shell_would():
    definition, problem = from_labels(labels(type="exec", command="sh -c 'test -f /tmp/ok && echo \"all good\"'"))

    assert problem == ""
    assert definition is not None
    assert definition.exec_command == ["sh", "-c", 'test -f /tmp/ok && echo "all good"']


def test_a_status_label_with_one_code_is_an_int():
    definition, _ = from_labels(labels(type="http", status="204"))

    assert definition is not None and definition.http_expected_status == 204


def test_a_status_label_with_a_range_is_kept_as_a_normalised_range():
    definition, _ = from_labels(labels(type="http", status=" 200 - 299 "))

    assert definition is not None and definition.http_expected_status == "200-299"


def test_interval_timeout_and_retries_come_from_the_labels():
    definition, problem = from_labels(labels(type="tcp", port="9000", interval="5", timeout="1.5", retries="2"))

    assert problem == ""
    assert definition is not None
    assert (definition.interval_seconds, definition.timeout_seconds, definition.retries) == (5.0, 1.5, 2)


def test_defaults_apply_where_no_label_says_otherwise():
    definition, _ = from_labels(labels(type="tcp", port="9000"))

    assert definition is not None
    assert (definition.interval_seconds, definition.timeout_seconds, definition.retries) == (30, 10, 3)
    assert definition.start_period_seconds == 0


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"type": "http", "port": "eighty"}, "eighty"),
        ({"type": "tcp", "port": "99999"}, "tcp_port"),
        ({"type": "tcp"}, "tcp_port"),
        ({"type": "exec"}, "exec_command"),
        ({"type": "exec", "command": "sh -c 'unclosed"}, "quotation"),
        ({"type": "gopher"}, "check_type"),
        ({"port": "80"}, "check_type"),
        ({"type": "http", "status": "299-200"}, "http_expected_status"),
        ({"type": "http", "status": "2xx"}, "http_expected_status"),
        ({"type": "http", "status": "700"}, "http_expected_status"),
        ({"type": "http", "interval": "often"}, "often"),
        ({"type": "http", "interval": "0"}, "interval_seconds"),
        ({"type": "http", "retries": "1.5"}, "1.5"),
    ],
    ids=[
        "non-numeric-port",
        "port-out-of-range",
        "tcp-without-port",
        "exec-without-command",
        "unbalanced-quote",
        "unknown-type",
        "no-type",
        "reversed-range",
        "not-a-range",
        "code-out-of-range",
        "non-numeric-interval",
        "zero-interval",
        "fractional-retries",
    ],
)
def test_bad_labels_define_no_check_and_say_what_is_wrong(values, named):
    definition, problem = from_labels(labels(**values))

    assert definition is None
    assert problem.startswith("check labels ignored: ")
    assert named in problem
    assert "\n" not in problem and len(problem) <= 300


# --- expected statuses ---------------------------------------------------------------------


def http(**fields) -> CheckDefinition:
    return CheckDefinition(check_type="http", http_endpoint="/", **fields)


@pytest.mark.parametrize(
    ("expected", "code", "ok"),
    [
        (200, 200, True),
        (200, 204, False),
        ([200, 204], 204, True),
        ([200, 204], 201, False),
        ("200-299", 200, True),
        ("200-299", 299, True),
        ("200-299", 300, False),
        ("200-299", 199, False),
    ],
)
def test_status_ok_matches_one_code_a_list_or_a_range(expected, code, ok):
    assert http(http_expected_status=expected).status_ok(code) is ok


def test_the_default_expected_status_is_200_to_399():
    definition = http()

    assert [definition.status_ok(code) for code in (199, 200, 302, 399, 400, 500)] == [
        False,
        True,
        True,
        True,
        False,
        False,
    ]


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "field"),
    [("http", "http_endpoint"), ("tcp", "tcp_port"), ("exec", "exec_command")],
)
def test_each_kind_requires_its_own_field_and_names_it(kind, field):
    with pytest.raises(ValidationError) as exc:
        CheckDefinition(check_type=kind)

    assert error_locs(exc) == [(field,)]
    assert "required" in exc.value.errors()[0]["msg"]


def test_a_docker_check_needs_no_target():
    assert CheckDefinition(check_type="docker").check_type == "docker"


@pytest.mark.parametrize(
    "status",
    ["299-200", "2xx", "99-200", "200-600", [], [200, 600], 99, 600],
    ids=[
        "reversed",
        "not-a-range",
        "low-end-too-low",
        "high-end-too-high",
        "empty-list",
        "list-with-bad-code",
        "code-too-low",
        "code-too-high",
    ],
)
def test_bad_expected_statuses_are_refused_on_that_field(status):
    with pytest.raises(ValidationError) as exc:
        http(http_expected_status=status)

    assert error_locs(exc) == [("http_expected_status",)]


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"check_type": "tcp", "tcp_port": 0}, "tcp_port"),
        ({"check_type": "tcp", "tcp_port": 65536}, "tcp_port"),
        ({"check_type": "http", "http_endpoint": "/", "http_port": 0}, "http_port"),
        ({"check_type": "http", "http_endpoint": ""}, "http_endpoint"),
        ({"check_type": "exec", "exec_command": []}, "exec_command"),
        ({"check_type": "tcp", "tcp_port": 80, "interval_seconds": -1}, "interval_seconds"),
        ({"check_type": "tcp", "tcp_port": 80, "timeout_seconds": 0}, "timeout_seconds"),
        ({"check_type": "tcp", "tcp_port": 80, "retries": 0}, "retries"),
        ({"check_type": "tcp", "tcp_port": 80, "start_period_seconds": -1}, "start_period_seconds"),
        ({"check_type": "http", "http_endpoint": "/", "http_method": "POST"}, "http_method"),
    ],
)
def test_out_of_range_fields_are_refused_by_name(fields, loc):
    with pytest.raises(ValidationError) as exc:
        CheckDefinition.model_validate(fields)

    assert (loc,) in error_locs(exc)


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError) as exc:
        CheckDefinition.model_validate({"check_type": "tcp", "tcp_port": 80, "tcp_prot": 81})

    assert error_locs(exc) == [("tcp_prot",)]
    assert exc.value.errors()[0]["type"] == "extra_forbidden"


def test_a_definition_is_frozen():
    definition = CheckDefinition(check_type="tcp", tcp_port=80)

    with pytest.raises(ValidationError):
        definition.tcp_port = 81  # type: ignore[misc]


# --- regressions: definitions that could only ever fail, and so restart a healthy container --------


@pytest.mark.parametrize(
    "endpoint",
    [
        "health",  # neither a path nor a URL
        "localhost:8080/health",  # no scheme
        "ftp://localhost/x",
        "http:///health",  # no host
        "http://:8080/health",
        "http://localhost:99999/health",  # port out of range
        "http://localhost:abc/",  # port not a number
    ],
)
def test_an_endpoint_that_is_neither_a_path_nor_an_http_url_with_a_host_and_valid_port_is_refused(endpoint):
    with pytest.raises(ValidationError) as exc:
        CheckDefinition(check_type="http", http_endpoint=endpoint)

    assert error_locs(exc) == [("http_endpoint",)]


@pytest.mark.parametrize("endpoint", ["http://{container_ip}:0/health", "http://localhost:0/"])
def test_an_endpoint_with_port_zero_is_refused(endpoint):
    with pytest.raises(ValidationError) as exc:
        CheckDefinition(check_type="http", http_endpoint=endpoint)

    assert error_locs(exc) == [("http_endpoint",)]


@pytest.mark.parametrize(
    "endpoint",
    [
        "/health",
        "http://localhost:8080/health",
        "https://LOCALHOST:8443/",
        "http://[::1]:81/z",
        "http://{container_ip}:8080/status?a=b",
        "https://status.example.com/ping?ip={container_ip}",
    ],
)
def test_a_path_or_an_http_url_with_a_host_is_accepted(endpoint):
    assert CheckDefinition(check_type="http", http_endpoint=endpoint).http_endpoint == endpoint


def test_an_expected_body_with_a_head_request_is_refused():
    with pytest.raises(ValidationError) as exc:
        CheckDefinition(check_type="http", http_endpoint="/", http_method="HEAD", http_expected_body="ok")

    assert error_locs(exc) == [("http_expected_body",)]


def test_an_expected_body_with_a_get_request_is_accepted():
    definition = CheckDefinition(check_type="http", http_endpoint="/", http_method="GET", http_expected_body="ok")

    assert definition.http_expected_body == "ok"


@pytest.mark.parametrize("command", [[""], ["test", "-f", ""]])
def test_an_empty_item_in_an_exec_command_is_refused(command):
    with pytest.raises(ValidationError) as exc:
        CheckDefinition(check_type="exec", exec_command=command)

    assert error_locs(exc) == [("exec_command", len(command) - 1)]
