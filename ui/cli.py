"""The `necto` command line (a contract other tools and tests rely on; see README).

    necto serve [--port N]                      the web chat
    necto devnet [--port N]                     the sandbox network, standalone
    necto ask "MESSAGE" --json | necto ask --json -
    necto quote [...] --json
    necto deploy --template T [...] [--tracked] --confirm --json
    necto logs JOB [--tail N] [--follow]
    necto status [JOB] [--json]
    necto jobs [--json]
    necto close JOB --confirm
    necto record [JOB] [--note TEXT]             ledger; tracked jobs also in the ComputeRouter contract
    necto verify JOB [--json]                   replay the routing decision, check hashes and the chain
    necto sdl compile FILE... --json | necto sdl validate FILE...
    necto user add NAME [--password-stdin] | necto user remove NAME | necto user list

Errors print one sentence (and a hint) on stderr and exit 1; never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from pathlib import Path
from typing import Any

import typer

from tools.errors import NectoError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Necto: the cheapest compute, deployed with a signature you can trust.")
sdl_app = typer.Typer(help="SDL tools.")
app.add_typer(sdl_app, name="sdl")
user_app = typer.Typer(help="Web chat users (NECTO_AUTH=password).", no_args_is_help=True)
app.add_typer(user_app, name="user")

OWNER = "local"  # the CLI user; the web chat has per-user owners
log = logging.getLogger("necto.cli")


def _fail(message: str, hint: str = "", code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    raise typer.Exit(code)


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure into a readable sentence (bad input must never print a traceback)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except NectoError as exc:
            _fail(exc.message, exc.hint)
        except KeyboardInterrupt:
            _fail("interrupted", code=130)
        except Exception as exc:  # noqa: BLE001 - the log keeps the detail, the user gets a sentence
            log.debug("unexpected error", exc_info=True)
            _fail(f"Necto hit an unexpected problem ({type(exc).__name__}); nothing was signed.",
                  "Run with NECTO_DEBUG=1 to see the details.")

    return wrapper


def _service():
    import atexit

    from tools.service import get_service

    service = get_service()
    atexit.register(service.close)
    return service


def _note_ephemeral_sandbox(service) -> None:
    if getattr(service, "devnet", None) is not None:
        typer.echo(
            "note: no sandbox was running, so this command started a temporary one; its deployments end when "
            "the command exits. Keep one with `make run` (web chat) or `necto devnet`.",
            err=True,
        )


def _run(coro):
    return asyncio.run(coro)


def _print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, default=str, ensure_ascii=False))


# --- serve / devnet ------------------------------------------------------------------------------------
@app.command()
@friendly
def serve(port: int = typer.Option(8000, help="Port for the web chat."),
          host: str = typer.Option("127.0.0.1", help="Interface to listen on.")) -> None:
    """Start the web chat (Chainlit) on the configured network (sandbox by default)."""
    import ipaddress

    from tools.settings import NectoSettings
    from ui.serve import chainlit_command, chainlit_env, repo_root
    from ui.users import configured_users

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    settings = NectoSettings()
    if settings.auth == "password" and not configured_users(settings):
        _fail("NECTO_AUTH=password, but nobody can sign in yet", "add a user with `necto user add NAME`")
    signs_in = settings.auth in ("password", "wallet") or (settings.auth == "header" and settings.auth_proxy_secret)
    if not loopback and not signs_in:
        # Without sign-in (or with a user header anyone could send), an Approve click from anywhere spends
        # from this machine's key.
        _fail(
            f"refusing to serve on {host} with no sign-in: anyone who can reach it could approve deployments "
            "paid from this machine's key",
            "set NECTO_AUTH=password (see `necto user add`), NECTO_AUTH=wallet (Keplr/Leap sign-in), or "
            "NECTO_AUTH=header with NECTO_AUTH_PROXY_SECRET behind your proxy; or serve on 127.0.0.1 and use an "
            "SSH tunnel",
        )
    env = chainlit_env()
    typer.echo(f"Necto web chat on http://{host}:{port} (network: {env.get('NECTO_NETWORK', 'sandbox')})", err=True)
    os.chdir(repo_root())
    os.execvpe(chainlit_command(port, host)[0], chainlit_command(port, host), env)


@app.command()
@friendly
def devnet(port: int = typer.Option(26657, help="Chain REST port (providers take the next free ports)."),
           host: str = typer.Option("127.0.0.1"),
           block_time: float = typer.Option(1.0, help="Seconds per block."),
           providers: int = typer.Option(24, help="How many simulated providers."),
           seed: int = typer.Option(7)) -> None:
    """Run the local sandbox network standalone, so other processes can use it (NECTO_REST_URL)."""
    import contextlib

    from devnet.server import serve_devnet_forever

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_devnet_forever(host=host, port=port, block_time_s=block_time, providers=providers, seed=seed))


# --- ask ------------------------------------------------------------------------------------------------
@app.command()
@friendly
def ask(message: str = typer.Argument(..., help="The message, or - to read one message per stdin line."),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per message.")) -> None:
    """Ask Necto something. Never executes a state-changing tool (deploy/close wait for confirmation)."""
    from agent.agent import build_agent
    from agent.conversation import ask_json

    messages = [line.strip() for line in sys.stdin] if message == "-" else [message]
    service = _service()
    agent = build_agent(service, settings=service.settings)

    async def run_all() -> None:
        for text in messages:
            if not text:
                continue
            try:
                result = await ask_json(text, agent=agent)
            except NectoError as exc:
                result = {"request": None, "tool_calls": [], "confirmation": None, "refused": False,
                          "reply": exc.message, "error": exc.to_result()}
            if as_json:
                _print_json(result)
            else:
                typer.echo(result["reply"])
                if result.get("confirmation"):
                    typer.echo("(a confirmation is waiting: approve it in the web chat, or use `necto deploy --confirm`)")

    _run(run_all())


# --- quote ----------------------------------------------------------------------------------------------
@app.command()
@friendly
def quote(workload: str = typer.Option("custom", "--template", "--workload"),
          gpu: str | None = typer.Option(None, "--gpu"), gpus: int | None = typer.Option(None, "--gpus"),
          cpu: float | None = typer.Option(None), memory_gib: float | None = typer.Option(None, "--memory-gib"),
          storage_gib: float | None = typer.Option(None, "--storage-gib"), hours: float | None = typer.Option(None),
          region: str | None = typer.Option(None), objective: str | None = typer.Option(None),
          max_usd_per_hour: float | None = typer.Option(None, "--max-usd-per-hour"),
          source: list[str] = typer.Option([], "--source", help="Only this price source (repeatable): akash, "
                                           "lambda, aws, ionet, render, skypilot or skypilot:<cloud>."),
          catalog_dir: str | None = typer.Option(None, "--catalog-dir", help="SkyPilot catalogs: <dir>/<cloud>/vms.csv."),
          min_vram_gib: float | None = typer.Option(None, "--min-vram-gib", help="GPU memory per GPU, at least."),
          gpu_class: str | None = typer.Option(None, "--gpu-class", help="datacenter, workstation or consumer."),
          audited: bool = typer.Option(False, "--audited", help="Audited Akash providers only."),
          min_uptime: float | None = typer.Option(None, "--min-uptime", help="Provider uptime floor, 0..1."),
          pricing_model: list[str] = typer.Option([], "--pricing-model",
                                                  help="Only this pricing model (repeatable): fixed, spot, auction, token."),
          limit: int = typer.Option(10), as_json: bool = typer.Option(False, "--json")) -> None:
    """Compare offers for a request across every connected source."""
    if catalog_dir is not None:
        # Settings are read when the service is built, just below.
        os.environ["NECTO_CATALOG_DIR"] = str(Path(catalog_dir).expanduser())
        if not Path(catalog_dir).expanduser().is_dir():
            _fail(f"--catalog-dir {catalog_dir} is not a directory", "Point it at a folder of <cloud>/vms.csv files.")
    args = {"workload": workload, "gpu_model": gpu, "gpu_count": gpus, "cpu": cpu, "memory_gib": memory_gib,
            "storage_gib": storage_gib, "hours": hours, "region": region, "objective": objective,
            "max_usd_per_hour": max_usd_per_hour, "sources": source or None, "min_vram_gib": min_vram_gib,
            "gpu_class": gpu_class, "audited_only": audited or None, "min_uptime": min_uptime,
            "pricing_models": pricing_model or None}
    result = _run(_service().quote(args, limit=limit, owner=OWNER))
    if as_json:
        _print_json({"request": result["request"], "offers": result["offers"], "skipped": result["skipped"]})
        return
    from ui.render import offers_table_markdown

    typer.echo(offers_table_markdown(result["offers"]))
    for skipped in result["skipped"]:
        typer.echo(f"skipped {skipped['source']}: {skipped['reason']}", err=True)


# --- deploy / logs / jobs / status / close ----------------------------------------------------------------
@app.command()
@friendly
def deploy(template: str = typer.Option(..., "--template", help="nextjs, react, vue, static, ..., or custom"),
           image: str | None = typer.Option(None), port: int | None = typer.Option(None),
           cpu: float | None = typer.Option(None), memory_gib: float | None = typer.Option(None, "--memory-gib"),
           storage_gib: float | None = typer.Option(None, "--storage-gib"), gpu: str | None = typer.Option(None),
           gpus: int | None = typer.Option(None), region: str | None = typer.Option(None),
           hours: float | None = typer.Option(None), max_usd_per_hour: float | None = typer.Option(None, "--max-usd-per-hour"),
           objective: str | None = typer.Option(None),
           env: list[str] = typer.Option([], "--env", help="KEY=VALUE environment for the container (repeatable)."),
           model: str | None = typer.Option(None, "--model", help="Model to serve (vllm), e.g. Qwen/Qwen2.5-7B-Instruct."),
           tracked: bool | None = typer.Option(None, "--tracked/--untracked",
                                               help="Also record the job in the ComputeRouter contract (default: settings)."),
           confirm: bool = typer.Option(False, "--confirm", help="Approve the plan (required to sign)."),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Deploy non-interactively. Without --confirm it only prints the plan's confirmation card."""
    service = _service()
    _note_ephemeral_sandbox(service)
    args = {"workload": template, "image": image, "cpu": cpu, "memory_gib": memory_gib, "storage_gib": storage_gib,
            "gpu_model": gpu, "gpu_count": gpus, "region": region, "hours": hours,
            "max_usd_per_hour": max_usd_per_hour, "objective": objective, "tracked": tracked}

    variables = {}
    for item in env:
        key, sep, value = item.partition("=")
        if not sep:
            _fail(f"--env takes KEY=VALUE, not {item!r}")
        variables[key] = value

    async def go() -> dict[str, Any]:
        plan = await service.create_deploy_plan(args, port=port, offer_id=None, owner=OWNER, env=variables, model=model)
        if not confirm:
            return {"plan": plan}
        return await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=OWNER)

    result = _run(go())
    if "plan" in result:
        from tools.deploy.plan import card_text

        typer.echo(card_text(result["plan"]["summary"]))
        _fail("not deployed: add --confirm to approve this plan and sign it", code=2)
    out = {k: result.get(k) for k in ("job_id", "dseq", "provider", "state", "uris")}
    if as_json:
        _print_json(out if result["status"] == "ok" else {**out, "error": result.get("message"), "hint": result.get("hint")})
    else:
        typer.echo(f"{out['job_id']}: {out['state']} on {out['provider']} (dseq {out['dseq']}) {' '.join(out['uris'])}")
    if result["status"] != "ok":
        _fail(result.get("message", "the deployment failed"), result.get("hint", ""))


@app.command()
@friendly
def logs(job: str = typer.Argument(None), tail: int = typer.Option(100), follow: bool = typer.Option(False),
         service_name: str | None = typer.Option(None, "--service")) -> None:
    """Print a deployment's logs (--follow to keep streaming; Ctrl-C stops)."""
    service = _service()

    async def go() -> None:
        async for line in service.stream_logs(job, owner=OWNER, tail=tail, follow=follow, service=service_name):
            typer.echo(f"[{line['service']}] {line['message']}")

    _run(go())


@app.command()
@friendly
def jobs(as_json: bool = typer.Option(False, "--json"), limit: int = typer.Option(50),
         state: str | None = typer.Option(None)) -> None:
    """List your jobs, newest first."""
    result = _service().list_jobs(limit=limit, state=state, owner=OWNER)
    if as_json:
        _print_json(result["jobs"])
        return
    if not result["jobs"]:
        typer.echo("No jobs yet.")
    for j in result["jobs"]:
        typer.echo(f"{j['job_id']}  {j['state']:<13} {j['workload']:<9} dseq {j['dseq']:<15} {j['provider'] or '-':<24} "
                   f"{' '.join(j['uris'])}")


@app.command()
@friendly
def verify(job: str = typer.Argument(..., help="The job id (see `necto jobs`)."),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Replay a job's routing decision and check every hash (and, for tracked jobs, the on-chain record).

    Exit status 0 when everything matches, 1 when anything differs (the report says exactly what)."""
    result = _run(_service().verify_job(job, owner=OWNER))
    if as_json:
        _print_json({k: v for k, v in result.items() if k != "report"})
    else:
        typer.echo(result["report"])
    if not result["verified"]:
        raise typer.Exit(1)


@app.command()
@friendly
def record(job: str = typer.Argument(None), note: str | None = typer.Option(None),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Record a job in the ledger (and, when it is tracked, in the ComputeRouter contract)."""
    result = _run(_service().record_job_async(job, note=note, owner=OWNER))
    if as_json:
        _print_json(result)
        return
    typer.echo(f"{result['job']['job_id']}: recorded ({result['mode']})")
    for tx in result.get("evm_transactions") or []:
        typer.echo(f"  EVM transaction {tx}")


@app.command()
@friendly
def status(job: str = typer.Argument(None), as_json: bool = typer.Option(False, "--json")) -> None:
    """Show a job's state, provider, URIs and recent events."""
    result = _run(_service().status(job, owner=OWNER))
    if as_json:
        _print_json(result["job"])
        return
    j = result["job"]
    rail = f" [paid via {j['payment_rail']}]" if j.get("payment_rail") == "console" else ""
    typer.echo(f"{j['job_id']}: {j['state']} on {j['provider'] or '-'} (dseq {j['dseq']}){rail} {' '.join(j['uris'])}")
    for event in j.get("events", []):
        typer.echo(f"  {event['at'][:19]}  {event['state']:<13} {event['message']}")


@app.command()
@friendly
def close(job: str = typer.Argument(...), confirm: bool = typer.Option(False, "--confirm"),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Close a deployment and refund the unused deposit (needs --confirm)."""
    service = _service()

    async def go() -> dict[str, Any]:
        plan = await service.create_close_plan(job, owner=OWNER)
        summary = service.plan_summary(plan["plan_id"], owner=OWNER)
        if not confirm:
            return {"card": summary["text"]}
        return await service.execute_close_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=OWNER)

    result = _run(go())
    if "card" in result:
        typer.echo(result["card"])
        _fail("not closed: add --confirm to approve and sign", code=2)
    if as_json:
        _print_json(result)
    else:
        typer.echo(f"{result['job_id']}: {result['state']}. Refunded {result.get('refund_act', result['refund_usd'])} ACT.")


@app.command()
@friendly
def mint(act: float = typer.Argument(..., help="ACT to mint (at least 10: the chain's minimum mint)"),
         confirm: bool = typer.Option(False, "--confirm"), as_json: bool = typer.Option(False, "--json")) -> None:
    """Mint ACT by burning AKT at the chain's oracle price (needs --confirm). Deposits are paid in ACT."""
    service = _service()

    async def go() -> dict[str, Any]:
        plan = await service.create_mint_plan(OWNER, act_amount=act)
        summary = service.plan_summary(plan["plan_id"], owner=OWNER)
        if not confirm:
            return {"card": summary["text"]}
        return await service.execute_mint_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=OWNER)

    result = _run(go())
    if "card" in result:
        typer.echo(result["card"])
        _fail("not minted: add --confirm to approve and sign", code=2)
    if as_json:
        _print_json(result)
    else:
        typer.echo(result["message"])


cert_app = typer.Typer(help="mTLS client certificates (for providers that accept only mTLS).", no_args_is_help=True)
app.add_typer(cert_app, name="cert")


@cert_app.command("publish")
@friendly
def cert_publish(replace: bool = typer.Option(False, "--replace", help="make a new certificate first"),
                 confirm: bool = typer.Option(False, "--confirm"),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Publish this account's mTLS client certificate on chain (needs --confirm; only the fee is spent)."""
    service = _service()

    async def go() -> dict[str, Any]:
        plan = await service.create_certificate_plan(OWNER, replace=replace)
        summary = service.plan_summary(plan["plan_id"], owner=OWNER)
        if not confirm:
            return {"card": summary["text"]}
        return await service.execute_certificate_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=OWNER)

    result = _run(go())
    if "card" in result:
        typer.echo(result["card"])
        _fail("not published: add --confirm to approve and sign", code=2)
    if as_json:
        _print_json(result)
    else:
        typer.echo(result["message"])


@app.command("secrets")
@friendly
def show_secrets(job: str = typer.Argument(None), as_json: bool = typer.Option(False, "--json")) -> None:
    """Print the secrets Necto generated for a job (e.g. POSTGRES_PASSWORD). Local only; never sent to a model."""
    found = _service().secrets(job, owner=OWNER)
    if as_json:
        _print_json(found)
        return
    if not found:
        typer.echo("Necto generated no secrets for this job.")
    for key, value in found.items():
        typer.echo(f"{key}={value}")


@sdl_app.command("compile")
@friendly
def sdl_compile(files: list[str] = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """Compile SDL files to groups, manifest and manifest hash."""
    from tools.sdl.compiler import compile_sdl

    failed = False
    for path in files:
        try:
            with open(path, encoding="utf-8") as handle:
                compiled = compile_sdl(handle.read())
            row = {"file": path, "ok": True, "hash": compiled.manifest_hash.hex(), "manifest": compiled.manifest,
                   "groups": compiled.groups, "error": None}
        except (NectoError, OSError, UnicodeDecodeError) as exc:
            failed = True
            row = {"file": path, "ok": False, "hash": None, "manifest": None, "groups": None,
                   "error": getattr(exc, "message", None) or str(exc)}
        if as_json:
            _print_json(row)
        else:
            typer.echo(f"{path}: {'ok ' + row['hash'] if row['ok'] else 'error: ' + row['error']}")
    if failed:
        raise typer.Exit(1)


@sdl_app.command("validate")
@friendly
def sdl_validate(files: list[str] = typer.Argument(...)) -> None:
    """Check SDL files for humans: what each deploys (services, resources, price cap), or the one-line error.

    Exit status 1 if any file is invalid."""
    from tools.sdl.compiler import compile_sdl

    failed = False
    for path in files:
        try:
            with open(path, encoding="utf-8") as handle:
                compiled = compile_sdl(handle.read())
        except (NectoError, OSError, UnicodeDecodeError) as exc:
            failed = True
            typer.echo(f"{path}: invalid: {getattr(exc, 'message', None) or exc}")
            continue
        services = ", ".join(f"{s['name']} ({s['image']})" for s in compiled.services)
        groups = len(compiled.groups)
        cap = sum((p.amount * p.count for p in compiled.prices), Decimal(0))
        denoms = sorted({p.denom for p in compiled.prices})
        typer.echo(f"{path}: valid: {services}; {groups} placement group{'s' if groups != 1 else ''}; "
                   f"max {format(cap.normalize(), 'f')} {'/'.join(denoms)} per block; manifest hash {compiled.manifest_hash.hex()[:16]}...")
    if failed:
        raise typer.Exit(1)


# --- user ------------------------------------------------------------------------------------------------
@user_app.command("add")
@friendly
def user_add(name: str = typer.Argument(..., help="The sign-in name (it becomes the owner of the user's jobs)."),
             password_stdin: bool = typer.Option(False, "--password-stdin",
                                                 help="Read the password from the first line of stdin."),
             replace: bool = typer.Option(False, "--replace", help="Set a new password for an existing user.")) -> None:
    """Add a web chat user: stores a PBKDF2 hash (never the password) in the users file, mode 0600."""
    from tools.settings import NectoSettings
    from ui.users import check_name, hash_password, read_users_file, write_users_file

    settings = NectoSettings()
    path = settings.effective_users_file
    check_name(name)
    users = read_users_file(path)
    if name in users and not replace:
        _fail(f"{name} already has a password in {path}", "add --replace to set a new one")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    if len(password) < 12:
        _fail("the password is shorter than 12 characters", "choose a longer one (a passphrase works well)")
    users[name] = hash_password(password)
    del password
    write_users_file(path, users)
    typer.echo(f"{name} can sign in (users file: {path}).", err=True)
    if settings.auth != "password":
        typer.echo("note: sign-in is off; start the chat with NECTO_AUTH=password to use it.", err=True)


@user_app.command("remove")
@friendly
def user_remove(name: str = typer.Argument(...)) -> None:
    """Remove a web chat user and sign everyone out at the next start (a fresh session secret)."""
    from tools.settings import NectoSettings
    from ui.serve import AUTH_SECRET_FILE
    from ui.users import read_users_file, write_users_file

    settings = NectoSettings()
    path = settings.effective_users_file
    users = read_users_file(path)
    if name not in users:
        _fail(f"{name} is not in {path}", "see `necto user list`")
    del users[name]
    write_users_file(path, users)
    # Chainlit's session tokens stay valid until they expire; a new secret ends them all.
    (settings.data_dir / AUTH_SECRET_FILE).unlink(missing_ok=True)
    typer.echo(f"{name} removed. Restart the chat to sign out their open sessions "
               "(unless CHAINLIT_AUTH_SECRET is set in the environment: change it).", err=True)


@user_app.command("list")
@friendly
def user_list() -> None:
    """The names in the users file (and NECTO_AUTH_USERS)."""
    from tools.settings import NectoSettings
    from ui.users import configured_users

    for name in sorted(configured_users(NectoSettings())):
        typer.echo(name)


def main() -> None:
    logging.basicConfig(level=logging.DEBUG if os.environ.get("NECTO_DEBUG") else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    os.environ.setdefault("ADK_DISABLE_LOAD_DOTENV", "1")
    app()


if __name__ == "__main__":
    main()
