"""Code packages live in storage: a node without the unpacked tree fetches the zip from
there, zips an older release kept on disk move into storage, and unused packages go."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import shutil
import sqlite3
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lambda_helpers import ROLE, client, function_name, zip_code
from server import ServerProcess

from postroom.clock import ManualClock
from postroom.lambda_.code import PUT_GRACE_MS
from postroom.lambda_.service import LambdaService
from postroom.protocol.context import RequestContext
from postroom.services import Apis
from postroom.storage.sqlite import SqliteStore

LAYER = {"python/shared.py": "VALUE = 'from the layer'\n"}
APP = {"app.py": "import shared\n\ndef handler(event, context):\n    return {'layer': shared.VALUE, 'event': event}\n"}


def _deploy(lam) -> tuple[str, bytes, bytes]:
    """A layer and a function using it; (function name, function zip, layer zip)."""
    layer_zip, app_zip = zip_code(LAYER), zip_code(APP)
    layer = lam.publish_layer_version(LayerName=function_name("layer"), Content={"ZipFile": layer_zip})
    name = function_name()
    lam.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler", Role=ROLE,
                        Code={"ZipFile": app_zip}, Layers=[layer["LayerVersionArn"]])
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    return name, app_zip, layer_zip


def _invoke(lam, name: str, n: int) -> dict:
    out = lam.invoke(FunctionName=name, Payload=json.dumps({"n": n}))
    assert "FunctionError" not in out, out["Payload"].read()
    return json.loads(out["Payload"].read())


def _drop_caches(data: Path) -> None:
    for cache in (data / "lambda" / "unpacked", data / "lambda" / "layers" / "unpacked"):
        shutil.rmtree(cache)


@contextlib.contextmanager
def _database(srv: ServerProcess):
    """The stopped server's database (the harness's helper where it has one)."""
    helper = getattr(srv, "database", None)
    if helper is not None:
        with helper() as conn:
            yield conn
        return
    conn = sqlite3.connect(srv.data_dir / "postroom.sqlite3")
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def test_a_node_without_the_unpacked_code_fetches_it_from_storage(private_server, tmp_path):
    data = tmp_path / "data"
    srv = private_server(data_dir=data)
    lam = client(srv.endpoint)
    name, _, _ = _deploy(lam)
    assert _invoke(lam, name, 0)["layer"] == "from the layer"
    srv.stop()
    # A node that never saw the packages: no unpacked trees, and no zip on disk either.
    _drop_caches(data)
    assert not list((data / "lambda").rglob("*.zip"))

    again = ServerProcess(data, port=srv.port, log_dir=tmp_path).start()
    try:
        with ThreadPoolExecutor(4) as pool:  # concurrent cold starts share one fetch
            answers = list(pool.map(lambda n: _invoke(lam, name, n), range(4)))
        assert [a["event"]["n"] for a in answers] == [0, 1, 2, 3]
        assert {a["layer"] for a in answers} == {"from the layer"}
        assert len(list((data / "lambda" / "unpacked").iterdir())) == 1
        assert len(list((data / "lambda" / "layers" / "unpacked").iterdir())) == 1
    finally:
        again.stop()


def test_zips_of_an_older_release_move_into_storage(private_server, tmp_path):
    data = tmp_path / "data"
    srv = private_server(data_dir=data)
    lam = client(srv.endpoint)
    name, app_zip, layer_zip = _deploy(lam)
    srv.stop()
    # The layout before shared storage: zips as files beside their unpacked trees.
    shas = {hashlib.sha256(z).hexdigest(): z for z in (app_zip, layer_zip)}
    with _database(srv) as conn:
        assert {row[0] for row in conn.execute("SELECT sha FROM lambda_code").fetchall()} == set(shas)
        conn.execute("DELETE FROM lambda_code")
    for folder, package in ((data / "lambda" / "code", app_zip), (data / "lambda" / "layers" / "code", layer_zip)):
        folder.mkdir(parents=True)
        (folder / f"{hashlib.sha256(package).hexdigest()}.zip").write_bytes(package)
    _drop_caches(data)

    again = ServerProcess(data, port=srv.port, log_dir=tmp_path).start()
    try:
        assert _invoke(lam, name, 1) == {"layer": "from the layer", "event": {"n": 1}}
        location = lam.get_function(FunctionName=name)["Code"]["Location"]
        with urllib.request.urlopen(location, timeout=5) as resp:
            assert resp.read() == app_zip
        assert not list((data / "lambda").rglob("*.zip"))  # the store holds them now
    finally:
        again.stop()
    with _database(again) as conn:
        rows = conn.execute("SELECT sha, data, size FROM lambda_code").fetchall()
    assert {sha: (bytes(blob), size) for sha, blob, size in rows} == {
        sha: (z, len(z)) for sha, z in shas.items()
    }


# -- in-process ----------------------------------------------------------------------------

CTX = RequestContext("000000000000", "us-east-1", "test", "http://localhost:4566", "req")


class _Pool:
    def retire(self, function_arn: str) -> None:
        pass

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def _run(scenario, data_dir: Path):
    async def main():
        store = SqliteStore(None)
        await store.start()
        clock = ManualClock()
        svc = LambdaService(store, clock, data_dir, Apis())
        svc.environments = _Pool()
        await svc.start()
        try:
            return await scenario(svc, clock)
        finally:
            await svc.stop()
            await store.close()

    return asyncio.run(main())


async def _create(svc: LambdaService, name: str, package: bytes, **kwargs) -> None:
    await svc.call("CreateFunction", {
        "FunctionName": name, "Role": ROLE, "Runtime": "python3.12", "Handler": "app.handler",
        "Code": {"ZipFile": package}, **kwargs,
    }, CTX)


def test_concurrent_first_uses_fetch_and_unpack_once(tmp_path):
    async def scenario(svc: LambdaService, clock):
        package = zip_code({"app.py": "x = 1"})
        await _create(svc, "fn", package)
        sha = hashlib.sha256(package).hexdigest()
        shutil.rmtree(svc.code.code_dir(sha))
        fetches = []
        real_get = svc.store.code.get

        async def counting_get(sha_hex: str) -> bytes | None:
            fetches.append(sha_hex)
            return await real_get(sha_hex)

        svc.code._packages.get = counting_get
        assert await asyncio.gather(*(svc.code.ensure(sha) for _ in range(5))) == [True] * 5
        assert fetches == [sha]
        assert (svc.code.code_dir(sha) / "app.py").read_text() == "x = 1"
        assert not [p for p in svc.code.unpacked.iterdir() if p.name.startswith(".")]
        assert await svc.code.ensure("0" * 64) is False  # not stored: the environment fails

    _run(scenario, tmp_path)


def test_packages_no_version_names_are_deleted_after_the_grace(tmp_path):
    async def scenario(svc: LambdaService, clock: ManualClock):
        one, two, three = (zip_code({"app.py": f"x = {n}"}) for n in (1, 2, 3))
        layer_zip = zip_code(LAYER)
        sha = {z: hashlib.sha256(z).hexdigest() for z in (one, two, three, layer_zip)}

        async def stored() -> set[bytes]:
            found = await svc.store.code.stored(list(sha.values()))
            return {z for z, s in sha.items() if s in found}

        layer = await svc.call("PublishLayerVersion", {"LayerName": "lib", "Content": {"ZipFile": layer_zip}}, CTX)
        await _create(svc, "fn", one, Layers=[layer["LayerVersionArn"]])
        await svc.call("PublishVersion", {"FunctionName": "fn"}, CTX)  # version 1 keeps `one`
        await clock.advance(PUT_GRACE_MS / 1000 + 1)
        await svc.call("UpdateFunctionCode", {"FunctionName": "fn", "ZipFile": two}, CTX)
        assert await stored() == {one, two, layer_zip}
        await svc.call("DeleteFunction", {"FunctionName": "fn", "Qualifier": "1"}, CTX)
        assert await stored() == {two, layer_zip}
        # A deleted layer version's content stays while a function uses it (as on AWS).
        await svc.call("DeleteLayerVersion", {"LayerName": "lib", "VersionNumber": 1}, CTX)
        assert await stored() == {two, layer_zip}
        # Within the grace a package stays (a request may be about to name it) ...
        await _create(svc, "other", three)
        await svc.call("DeleteFunction", {"FunctionName": "other"}, CTX)
        await clock.advance(PUT_GRACE_MS / 1000 + 1)
        await svc.call("DeleteFunction", {"FunctionName": "fn"}, CTX)
        assert await stored() == {three}
        # ... until a later sweep (each start runs one).
        await svc.code.forget_unused(None)
        assert await stored() == set()

    _run(scenario, tmp_path)
