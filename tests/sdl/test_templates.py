"""Workload templates: every one renders, compiles and carries the typed variables."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml
from pydantic import ValidationError

from tools.errors import InvalidRequest, UnknownTemplate
from tools.request import WORKLOADS
from tools.sdl import TemplateVars, compile_sdl, list_templates, render_sdl, template_defaults
from tools.sdl.templates import TEMPLATES_DIR

REQUIRED = {"nextjs", "react", "vue", "static", "custom"}
TEMPLATE_IDS = [t.id for t in list_templates()]
PRICE = Decimal("1234.5")


def defaults_for(template_id: str, **extra: object) -> TemplateVars:
    info = next(t for t in list_templates() if t.id == template_id)
    values: dict = {"price_uact_per_block": PRICE, **extra}
    if info.requires_image:
        values.setdefault("image", "ghcr.io/acme/app:1.0")
    if info.required_env:
        values.setdefault("env", {key: "s3cr3t-value" for key in info.required_env})
    return TemplateVars(**values)


def test_required_templates_exist_and_all_ids_are_known_workloads() -> None:
    assert REQUIRED <= set(TEMPLATE_IDS)
    assert set(TEMPLATE_IDS) <= set(WORKLOADS)


def test_templates_dir_is_in_the_repo() -> None:
    assert TEMPLATES_DIR.name == "sdl_templates" and TEMPLATES_DIR.is_dir()


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_template_renders_and_compiles_with_defaults(template_id: str) -> None:
    text = render_sdl(template_id, defaults_for(template_id))
    document = yaml.safe_load(text)
    assert "x-necto" not in document and document["version"] == "2.0"
    compiled = compile_sdl(text)
    assert {(p.denom, p.amount) for p in compiled.prices} == {("uact", PRICE)}
    for unit in compiled.groups[0]["resources"]:
        assert unit["price"] == {"denom": "uact", "amount": "1234.500000000000000000"}
    info = next(t for t in list_templates() if t.id == template_id)
    expected_image = "ghcr.io/acme/app:1.0" if info.requires_image else info.image
    service = next(s for s in compiled.services if s["image"] == expected_image)
    assert any(port["global"] for port in service["ports"])


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_template_variants_gpu_region_env(template_id: str) -> None:
    variables = defaults_for(
        template_id,
        gpu_model="a100",
        gpu_count=2,
        region="us-west",
        env={"MY_FLAG": "a<b & 'c'", **(defaults_for(template_id).env)},
        cpu=2.5,
        memory_gib=6,
        storage_gib=20.5,
        count=3,
    )
    compiled = compile_sdl(render_sdl(template_id, variables))
    (group,) = compiled.groups
    assert group["requirements"]["attributes"] == [{"key": "region", "value": "us-west"}]
    unit = next(u for u in group["resources"] if u["resource"]["gpu"]["units"]["val"] != "0")
    resource = unit["resource"]
    assert unit["count"] == 3
    assert resource["cpu"]["units"]["val"] == "2500"
    assert resource["memory"]["size"]["val"] == str(6 * 1024**3)
    assert str(20992 * 1024**2) in [volume["size"]["val"] for volume in resource["storage"]]
    assert resource["gpu"] == {
        "units": {"val": "2"},
        "attributes": [{"key": "vendor/nvidia/model/a100", "value": "true"}],
    }
    primary = next(s for s in compiled.manifest[0]["services"] if s["resources"]["id"] == resource["id"])
    env = primary["env"]
    assert "MY_FLAG=a<b & 'c'" in env
    assert b"MY_FLAG=a\\u003cb \\u0026 'c'" in compiled.manifest_json


def test_nextjs_starter_exposes_port_80_globally() -> None:
    compiled = compile_sdl(render_sdl("nextjs", TemplateVars(price_uact_per_block=Decimal(100))))
    (service,) = compiled.manifest[0]["services"]
    assert service["image"] == "node:22-alpine"
    assert service["command"] == ["sh", "-c"] and "create-next-app" in service["args"][0]
    (expose,) = service["expose"]
    assert (expose["port"], expose["externalPort"], expose["global"]) == (3000, 80, True)
    assert service["resources"]["endpoints"] == [{"sequence_number": 0}]  # SHARED_HTTP: an HTTP ingress URL


def test_own_image_drops_the_starter_command_and_sets_the_port() -> None:
    text = render_sdl(
        "nextjs", TemplateVars(price_uact_per_block=Decimal(100), image="ghcr.io/me/site:2", port=8080)
    )
    (service,) = compile_sdl(text).manifest[0]["services"]
    assert (service["image"], service["command"], service["args"]) == ("ghcr.io/me/site:2", None, None)
    assert service["expose"][0]["port"] == 8080 and service["expose"][0]["externalPort"] == 80


def test_static_defaults() -> None:
    compiled = compile_sdl(render_sdl("static", TemplateVars(price_uact_per_block=Decimal("0.5"))))
    (service,) = compiled.manifest[0]["services"]
    assert service["image"] == "nginx:1.27-alpine" and service["expose"][0]["port"] == 80
    assert compiled.groups[0]["resources"][0]["price"]["amount"] == "0.500000000000000000"


def test_gpu_templates_default_to_any_nvidia_gpu() -> None:
    for template_id in ("vllm", "ollama", "comfyui"):
        compiled = compile_sdl(render_sdl(template_id, TemplateVars(price_uact_per_block=PRICE)))
        gpu = compiled.groups[0]["resources"][0]["resource"]["gpu"]
        assert gpu == {
            "units": {"val": "1"},
            "attributes": [{"key": "vendor/nvidia/model/*", "value": "true"}],
        }


def test_list_templates_reads_metadata_and_defaults() -> None:
    static = next(t for t in list_templates() if t.id == "static")
    assert (static.image, static.port, static.cpu, static.memory_gib, static.gpu) == (
        "nginx:1.27-alpine",
        80,
        0.5,
        0.5,
        False,
    )
    vllm = next(t for t in list_templates() if t.id == "vllm")
    assert vllm.gpu and vllm.gpu_count == 1 and vllm.title


def test_unknown_workload_lists_known_ids() -> None:
    with pytest.raises(UnknownTemplate) as caught:
        render_sdl("../../etc/passwd", TemplateVars(price_uact_per_block=PRICE))
    for template_id in REQUIRED:
        assert template_id in caught.value.message


def test_custom_requires_an_image() -> None:
    with pytest.raises(InvalidRequest, match="needs an image"):
        render_sdl("custom", TemplateVars(price_uact_per_block=PRICE))


def test_postgres_requires_a_password() -> None:
    with pytest.raises(InvalidRequest, match="POSTGRES_PASSWORD"):
        render_sdl("postgres", TemplateVars(price_uact_per_block=PRICE))


def test_wordpress_shares_one_password_with_its_database() -> None:
    variables = TemplateVars(
        price_uact_per_block=PRICE, env={"WORDPRESS_DB_PASSWORD": "pw-123"}, memory_gib=2
    )
    compiled = compile_sdl(render_sdl("wordpress", variables))
    services = {s["name"]: s for s in compiled.manifest[0]["services"]}
    assert "WORDPRESS_DB_PASSWORD=pw-123" in services["wordpress"]["env"]
    assert "MARIADB_PASSWORD=pw-123" in services["db"]["env"]
    assert services["wordpress"]["resources"]["memory"]["size"]["val"] == str(2 * 1024**3)
    assert services["db"]["resources"]["memory"]["size"]["val"] == str(1024**3)
    assert [s["name"] for s in compiled.services if any(p["global"] for p in s["ports"])] == ["wordpress"]


def test_template_defaults_are_compute_request_fields() -> None:
    from tools.request import ComputeRequest

    defaults = template_defaults("vllm")
    assert defaults == {"cpu": 8.0, "memory_gib": 32.0, "storage_gib": 60.0, "gpu_count": 1}
    for template_id in TEMPLATE_IDS:
        ComputeRequest.parse({"workload": template_id, **template_defaults(template_id)})
    with pytest.raises(UnknownTemplate):
        template_defaults("nope")


def test_gpu_template_cannot_drop_its_gpu() -> None:
    with pytest.raises(InvalidRequest, match="needs at least one GPU"):
        render_sdl("vllm", TemplateVars(price_uact_per_block=PRICE, gpu_count=0))


@pytest.mark.parametrize(
    "values",
    [
        {"cpu": -1},
        {"cpu": 0},
        {"env": {"bad-key": "x"}},
        {"env": {"lower": "x"}},
        {"env": {"OK": "line1\nline2"}},
        {"gpu_model": "voodoo5"},
        {"port": 70000},
        {"count": 0},
        {"image": "nginx latest"},
        {"region": "US West!"},
        {"price_uact_per_block": Decimal(0)},
        {"unexpected": 1},
    ],
)
def test_bad_vars_are_clear_errors(values: dict) -> None:
    data = {"price_uact_per_block": PRICE, **values}
    with pytest.raises(ValidationError):
        TemplateVars(**data)
    with pytest.raises(InvalidRequest) as caught:
        TemplateVars.parse(data)
    assert caught.value.message.startswith("Template settings are invalid:")
    assert "\n" not in caught.value.message


def test_computed_prices_are_rounded_down_to_18_decimals() -> None:
    price = Decimal(1) / Decimal(3)  # 28 significant digits, as a USD -> uact conversion produces
    variables = TemplateVars(price_uact_per_block=price)
    assert variables.price_uact_per_block == Decimal("0.333333333333333333")
    compiled = compile_sdl(render_sdl("static", variables))
    assert compiled.groups[0]["resources"][0]["price"]["amount"] == "0.333333333333333333"
    with pytest.raises(ValidationError):
        TemplateVars(price_uact_per_block=Decimal("1e-19"))


def test_price_is_required() -> None:
    with pytest.raises(InvalidRequest, match="price_uact_per_block"):
        TemplateVars.parse({})


def test_env_values_are_data_not_yaml() -> None:
    hostile = "x\tservices: {evil: {image: bad}}"
    text = render_sdl("static", TemplateVars(price_uact_per_block=PRICE, env={"PAYLOAD": hostile}))
    compiled = compile_sdl(text)
    assert [s["name"] for s in compiled.services] == ["web"]
    assert compiled.manifest[0]["services"][0]["env"] == [f"PAYLOAD={hostile}"]


def test_vllm_serves_the_named_model_across_every_gpu():
    import yaml as _yaml

    from tools.sdl.templates import TemplateVars as _Vars
    from tools.sdl.templates import render_sdl as _render

    text = _render("vllm", _Vars(price_uact_per_block=Decimal(100), gpu_model="a100", gpu_count=4,
                                 model="Qwen/Qwen2.5-72B-Instruct"))
    args = _yaml.safe_load(text)["services"]["vllm"]["args"]
    assert args[args.index("--model") + 1] == "Qwen/Qwen2.5-72B-Instruct"
    assert args[-2:] == ["--tensor-parallel-size", "4"]
    single = _yaml.safe_load(_render("vllm", _Vars(price_uact_per_block=Decimal(100))))["services"]["vllm"]["args"]
    assert "--tensor-parallel-size" not in single


def test_a_model_name_is_refused_where_it_means_nothing_and_when_malformed():
    from tools.errors import InvalidRequest as _Invalid
    from tools.sdl.templates import TemplateVars as _Vars
    from tools.sdl.templates import render_sdl as _render

    with pytest.raises(_Invalid):
        _render("static", _Vars(price_uact_per_block=Decimal(1), model="a/b"))
    with pytest.raises(_Invalid):
        _Vars.parse({"price_uact_per_block": 1, "model": "a b; rm -rf /"})
