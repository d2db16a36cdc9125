"""Model choice: the offline planner without a key, Gemini with one (constructed only; never called)."""

from agent.agent import build_agent, default_model
from agent.planner import OfflinePlanner
from tools.settings import NectoSettings


def test_no_key_means_the_offline_planner(monkeypatch):
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    assert isinstance(default_model(NectoSettings()), OfflinePlanner)


def test_a_key_selects_gemini_without_calling_it(monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", "test-key-not-real")
    settings = NectoSettings()
    model = default_model(settings)
    assert type(model).__name__ == "Gemini"
    assert model.model == settings.gemini_model
    agent = build_agent(lambda: None, settings=settings)
    assert agent.model is model or getattr(agent.model, "model", None) == settings.gemini_model
    # The key is a secret: it never appears in the settings' repr or the agent's instruction.
    assert "test-key-not-real" not in repr(settings)
    assert "test-key-not-real" not in str(agent.instruction)


def test_every_tool_has_a_declaration_gemini_can_use(monkeypatch):
    """Gemini sees the tools through their declarations (built locally from signatures and docstrings)."""
    monkeypatch.setenv("GOOGLE_API_KEY", "test-key-not-real")
    agent = build_agent(lambda: None, settings=NectoSettings())
    declarations = {}
    for tool in agent.tools:
        declaration = tool._get_declaration()
        assert declaration is not None, tool
        declarations[declaration.name] = declaration
    assert set(declarations) == {"list_providers", "normalize_price", "build_sdl", "deploy", "tail_logs",
                                 "record_job", "deployment_status", "close_deployment", "list_jobs", "mint_act"}
    for name, declaration in declarations.items():
        assert declaration.description and declaration.description.startswith("Use this"), name
        schema = declaration.parameters_json_schema or declaration.parameters
        text = str(schema)
        assert "tool_context" not in text, f"{name} exposes the injected context"
    assert "plan_id" in str(declarations["deploy"].parameters_json_schema or declarations["deploy"].parameters)
