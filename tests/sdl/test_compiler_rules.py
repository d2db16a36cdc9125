"""Compiler behaviours beyond the fixtures: v2.1 merging, ordering quirks, safety limits, error shape."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
import yaml

from tools.errors import InvalidSDL
from tools.sdl import compile_sdl

BASE = {
    "version": "2.0",
    "services": {
        "web": {"image": "nginx:1.27", "expose": [{"port": 80, "as": 80, "to": [{"global": True}]}]},
    },
    "profiles": {
        "compute": {"small": {"resources": {"cpu": {"units": 0.5}, "memory": {"size": "512Mi"},
                                            "storage": {"size": "1Gi"}}}},
        "placement": {"akash": {"pricing": {"small": {"denom": "uact", "amount": 100}}}},
    },
    "deployment": {"web": {"akash": {"profile": "small", "count": 1}}},
}  # fmt: skip


def sdl(**changes: object) -> dict:
    document = copy.deepcopy(BASE)
    document.update(changes)
    return document


def compile_doc(document: dict):  # type: ignore[no-untyped-def]
    return compile_sdl(yaml.safe_dump(document, sort_keys=False))


def with_api(version: str) -> dict:
    document = sdl(version=version)
    document["services"]["api"] = {
        "image": "node:22",
        "expose": [{"port": 3000, "to": [{"global": True}]}, {"port": 9000, "to": [{"service": "web"}]}],
    }
    document["deployment"]["api"] = {"akash": {"profile": "small", "count": 2}}
    return document


def test_v2_0_keeps_one_unit_per_service() -> None:
    compiled = compile_doc(with_api("2.0"))
    units = compiled.groups[0]["resources"]
    assert [u["resource"]["id"] for u in units] == [1, 2]  # api first: services sorted by name
    assert [u["count"] for u in units] == [2, 1]


def test_v2_1_merges_services_sharing_a_profile() -> None:
    compiled = compile_doc(with_api("2.1"))
    (unit,) = compiled.groups[0]["resources"]
    assert unit["count"] == 3
    assert unit["resource"]["endpoints"] == [{"kind": 1, "sequence_number": 0}, {"sequence_number": 0}]
    services = compiled.manifest[0]["services"]
    assert [s["name"] for s in services] == ["api", "web"]
    assert [s["resources"]["id"] for s in services] == [1, 1]
    assert services[0]["resources"]["endpoints"] == [{"kind": 1, "sequence_number": 0}]
    assert services[1]["resources"]["endpoints"] == [{"sequence_number": 0}]
    assert [(p.services, p.count, p.amount) for p in compiled.prices] == [(("api", "web"), 3, Decimal(100))]


def test_expose_without_to_becomes_a_cluster_internal_entry() -> None:
    document = sdl()
    document["services"]["web"]["expose"].append({"port": 9090})
    compiled = compile_doc(document)
    exposes = compiled.manifest[0]["services"][0]["expose"]
    assert [(e["port"], e["global"], e["service"]) for e in exposes] == [(80, True, ""), (9090, False, "")]
    assert compiled.groups[0]["resources"][0]["resource"]["endpoints"] == [{"sequence_number": 0}]


def test_exposes_sort_by_service_port_proto_then_global_first() -> None:
    document = sdl()
    document["services"]["web"]["expose"] = [
        {"port": 8080, "proto": "udp", "to": [{"global": True}]},
        {"port": 8080, "to": [{"service": "b"}, {"global": True}]},
        {"port": 81, "to": [{"service": "a"}]},
    ]
    exposes = compile_doc(document).manifest[0]["services"][0]["expose"]
    assert [(e["service"], e["port"], e["proto"], e["global"]) for e in exposes] == [
        ("", 8080, "TCP", True), ("", 8080, "UDP", True), ("a", 81, "TCP", False), ("b", 8080, "TCP", False)
    ]  # fmt: skip


def test_ip_sequence_numbers_count_non_global_targets_like_go() -> None:
    document = with_api("2.0")
    document["endpoints"] = {"myip": {"kind": "ip"}}
    document["services"]["web"]["expose"][0]["to"][0]["ip"] = "myip"
    compiled = compile_doc(document)
    web = next(s for s in compiled.manifest[0]["services"] if s["name"] == "web")
    # sorted names: ["", "myip"] (the api->web target adds ""), so myip is 2
    assert web["expose"][0]["endpointSequenceNumber"] == 2
    assert web["resources"]["endpoints"] == [{"sequence_number": 0}, {"kind": 2, "sequence_number": 2}]


def test_storage_volumes_follow_go_order_and_attributes() -> None:
    document = sdl()
    document["profiles"]["compute"]["small"]["resources"]["storage"] = [
        {"name": "data", "size": "10Gi", "attributes": {"persistent": True, "class": "beta2"}},
        {"size": "1Gi"},
        {"name": "cache", "size": "1Gi", "attributes": {"class": "ram", "persistent": False}},
    ]
    document["services"]["web"]["params"] = {
        "storage": {"data": {"mount": "/data"}, "cache": {"mount": "/cache"}}
    }
    compiled = compile_doc(document)
    storage = compiled.groups[0]["resources"][0]["resource"]["storage"]
    assert [s["name"] for s in storage] == ["default", "cache", "data"]
    assert storage[2]["attributes"] == [
        {"key": "class", "value": "beta2"},
        {"key": "persistent", "value": "true"},
    ]
    params = compiled.manifest[0]["services"][0]["params"]
    assert params == {"storage": [{"name": "cache", "mount": "/cache", "readOnly": False},
                                  {"name": "data", "mount": "/data", "readOnly": False}]}  # fmt: skip


def test_gpu_attributes_keys() -> None:
    document = sdl()
    document["profiles"]["compute"]["small"]["resources"]["gpu"] = {
        "units": 2,
        "attributes": {
            "vendor": {"nvidia": [{"model": "h100", "ram": "80Gi", "interface": "sxm"}, {"model": "a100"}]}
        },
    }
    gpu = compile_doc(document).groups[0]["resources"][0]["resource"]["gpu"]
    assert gpu == {
        "units": {"val": "2"},
        "attributes": [
            {"key": "vendor/nvidia/model/a100", "value": "true"},
            {"key": "vendor/nvidia/model/h100/ram/80Gi/interface/sxm", "value": "true"},
        ],
    }
    document["profiles"]["compute"]["small"]["resources"]["gpu"]["attributes"]["vendor"]["nvidia"] = None
    gpu = compile_doc(document).groups[0]["resources"][0]["resource"]["gpu"]
    assert gpu["attributes"] == [{"key": "vendor/nvidia/model/*", "value": "true"}]


def test_summary_and_prices_for_the_confirmation_card() -> None:
    compiled = compile_doc(with_api("2.0"))
    web = next(s for s in compiled.services if s["name"] == "web")
    assert web == {
        "name": "web",
        "image": "nginx:1.27",
        "count": 1,
        "placements": ["akash"],
        "ports": [{"port": 80, "as": 80, "proto": "TCP", "global": True, "to": [], "ip": None}],
    }
    api = next(s for s in compiled.services if s["name"] == "api")
    assert [(p["port"], p["as"], p["global"], p["to"]) for p in api["ports"]] == [
        (3000, None, True, []),
        (9000, None, False, ["web"]),
    ]
    assert compiled.denoms == {"uact"}
    assert json.loads(compiled.manifest_json) == compiled.manifest
    json.dumps(compiled.services)  # plain JSON for the plan body


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["deployment"]["web"]["akash"].update(profile="nope"), "deployment.web.akash.profile"),
        (
            lambda d: d["deployment"].update(ghost={"akash": {"profile": "small", "count": 1}}),
            "deployment.ghost",
        ),
        (
            lambda d: d["deployment"]["web"].update(elsewhere={"profile": "small", "count": 1}),
            "deployment.web.elsewhere",
        ),
        (
            lambda d: d["services"]["web"]["expose"][0]["to"][0].update(ip="nope"),
            "services.web.expose[0].to[0].ip",
        ),
        (lambda d: d["services"]["web"]["expose"][0]["to"][0].update({"global": False}), "services"),
        (lambda d: d["services"]["web"].update(env=["1BAD=x"]), "services.web.env[0]"),
        (
            lambda d: d["services"]["web"]["expose"][0].update(accept=["not a host"]),
            "services.web.expose.accept",
        ),
        (lambda d: d["services"].update(Web=d["services"]["web"]), "deployment.Web"),
        (
            lambda d: d["profiles"]["compute"]["small"]["resources"]["cpu"].update(units=500),
            "profiles.compute.small",
        ),
        (lambda d: d["deployment"]["web"]["akash"].update(count=51), "deployment"),
        (
            lambda d: d["profiles"]["compute"]["small"]["resources"].update(gpu={"units": 1}),
            "profiles.compute.small.resources.gpu",
        ),
        (
            lambda d: d["services"]["web"]["expose"][0].update(http_options={"next_cases": ["off", "error"]}),
            "services.web.expose[0].http_options",
        ),
        (lambda d: d.update(include=["other.yaml"]), "include"),
    ],
)
def test_semantic_errors_name_the_yaml_path(mutate, path: str) -> None:  # type: ignore[no-untyped-def]
    document = sdl()
    mutate(document)
    with pytest.raises(InvalidSDL) as caught:
        compile_doc(document)
    assert caught.value.message.startswith(path), caught.value.message


def test_mixed_denoms_are_refused() -> None:
    document = with_api("2.0")
    document["profiles"]["compute"]["big"] = copy.deepcopy(document["profiles"]["compute"]["small"])
    document["profiles"]["placement"]["akash"]["pricing"]["big"] = {"denom": "uakt", "amount": 5}
    document["deployment"]["api"]["akash"]["profile"] = "big"
    with pytest.raises(InvalidSDL, match="same denom"):
        compile_doc(document)


def test_unquoted_version_is_accepted() -> None:
    text = yaml.safe_dump(sdl(), sort_keys=False).replace("version: '2.0'", "version: 2.0")
    assert "version: 2.0\n" in text
    assert compile_sdl(text).version == "2.0"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "(document): SDL is empty"),
        ("- a\n- b\n", "(document): an SDL is a YAML mapping"),
        ("a: [1, 2\n", "line 2"),
        ("a: 1\na: 2\n", "line 2: mapping key 'a' is defined twice"),
        ("1: x\n", "must be a string"),
        ("a: 1\n---\nb: 2\n", "another document"),
        ("x" * (1024 * 1024 + 1), "larger than 1024 KiB"),
    ],
)
def test_bad_documents(text: str, fragment: str) -> None:
    with pytest.raises(InvalidSDL) as caught:
        compile_sdl(text)
    assert fragment in caught.value.message


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 20)]
    with pytest.raises(InvalidSDL, match="more than 100000 YAML nodes"):
        compile_sdl("\n".join(lines))


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(InvalidSDL):
        compile_sdl("a: &x [*x]\n")


def test_yaml_1_1_words_stay_strings() -> None:
    document = sdl()
    document["services"]["web"]["expose"][0]["http_options"] = {"next_cases": ["off"]}
    text = yaml.safe_dump(document, sort_keys=False).replace("- 'off'", "- off")
    assert "- off" in text
    exposes = compile_sdl(text).manifest[0]["services"][0]["expose"]
    assert exposes[0]["httpOptions"]["nextCases"] == ["off"]


def test_internal_errors_become_invalid_sdl(monkeypatch: pytest.MonkeyPatch) -> None:
    import tools.sdl.compiler as compiler

    def explode(*_args: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(compiler, "_check_references", explode)
    with pytest.raises(InvalidSDL, match=r"^\(document\): could not compile the SDL \(KeyError\)$"):
        compile_doc(sdl())


def test_a_huge_document_without_anchors_is_refused_by_the_tree_check() -> None:
    # No '&' anywhere: the loader takes the plain tree walk, which must enforce the same node limit.
    text = "items: [" + ", ".join(["1"] * 100_001) + "]\n"
    assert "&" not in text
    with pytest.raises(InvalidSDL, match="more than 100000 YAML nodes"):
        compile_sdl(text)


@pytest.mark.parametrize("anchor", ["", "x: &a 1\n"])
def test_duplicate_keys_are_refused_with_and_without_anchors(anchor: str) -> None:
    with pytest.raises(InvalidSDL, match="defined twice"):
        compile_sdl(f"{anchor}version: '2.0'\nservices: {{}}\nservices: {{}}\n")
