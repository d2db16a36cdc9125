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
