"""SDL compilation and templates: SDL YAML -> Akash group specs, provider manifest and manifest hash.

Framework-free (no ADK or Chainlit imports) so it can be used from a notebook or the provider fake.
``compile_sdl`` turns SDL text into a ``CompiledSDL``; ``render_sdl`` produces SDL text from a workload
template and typed variables; ``manifest_json_bytes`` is the Go-compatible encoder behind the hash.
"""

from tools.sdl.canonical_json import manifest_json_bytes
from tools.sdl.compiler import CompiledSDL, ResourcePrice, compile_sdl
from tools.sdl.templates import TemplateInfo, TemplateVars, list_templates, render_sdl, template_defaults

__all__ = [
    "CompiledSDL",
    "ResourcePrice",
    "TemplateInfo",
    "TemplateVars",
    "compile_sdl",
    "list_templates",
    "manifest_json_bytes",
    "render_sdl",
    "template_defaults",
]
