#!/usr/bin/env python3
"""Drive one full hawkBit DDI update with the real `rauc-hawkbit` client (PyPI).

This runs the package's own client code paths against a DDI server (Updraft):

  rauc_hawkbit.rauc_dbus_ddi_client.RaucDBUSDDIClient   (poll loop, configData,
      deployment handling, download + MD5 check, D-Bus event handling, feedback)
  rauc_hawkbit.ddi.client.DDIClient                      (HTTP GET/PUT/POST, TargetToken)
  rauc_hawkbit.ddi.deployment_base.DeploymentBaseAction  (feedback JSON bodies)

WHAT IS REPLACED, AND WHY
-------------------------
RaucDBUSDDIClient talks to the RAUC daemon over the D-Bus *system bus* through
PyGObject (`from gi.repository import GLib, Gio`). Neither RAUC nor a system bus
exists here, and PyGObject (pulled in via the package's `gbulb` dependency) does
not even build in a plain venv (needs cairo/gobject-introspection headers). So,
before the package is imported, this script puts a small fake `gi.repository`
module into sys.modules. It replaces exactly the D-Bus transport and the RAUC
daemon behind it:

  * Gio.bus_get_sync / bus.signal_subscribe  -> an in-process fake bus that hands
    events to the package's own AsyncDBUSClient.on_dbus_event callback (so the
    package's real event queue, PropertiesChanged filtering, progress_callback,
    last_error_callback and complete_callback all run unchanged);
  * Gio.DBusProxy.new_sync(...).Install('(s)', path) -> FakeRaucInstaller.Install:
    instead of RAUC installing the bundle, it verifies the downloaded file against
    the deployment's artifact size / sha1 / sha256 / md5, copies it to
    <bundle-dir>/installed.raucb (the stand-in for the written slot), then emits
    what RAUC emits during an install: PropertiesChanged(Operation, LastError='',
    Progress=(percentage, message, depth) ...) and finally Completed(0).
    A verification mismatch raises GLib.Error from Install(), like RAUC refusing
    a bundle, so the package sends its closed/failure feedback itself.
  * GLib.Error -> a plain Exception subclass (the package only catches it).

Nothing else is patched. Instrumentation only (no behaviour change): an aiohttp
TraceConfig prints every request line, request body and response status; a
wrapper around DDIClient.check_http_status prints the body of any non-200 answer
and ends the run; a wrapper around DDIClient.get_resource keeps the deploymentBase
JSON so the fake installer can check size/hashes.

The package itself can only send `Authorization: TargetToken ...`; with
--gateway-token this script swaps the header to `GatewayToken ...` after
DDIClient is built (the only deviation from the package's wire behaviour).

Exit codes: 0 = deployment installed and closed/success feedback accepted;
1 = an HTTP error (or an exception raised by the package); 2 = timeout;
3 = install reported failure / artifact verification failed; 64 = bad usage.
"""

import argparse
import asyncio
import hashlib
import json
import logging
import os
import shutil
import sys
import time
import types

# --------------------------------------------------------------------------
# Fake gi.repository (GLib + Gio): the D-Bus transport and the RAUC daemon.
# Must be installed before rauc_hawkbit.rauc_dbus_ddi_client is imported.
# --------------------------------------------------------------------------


class _GLibError(Exception):
    """Stand-in for gi.repository.GLib.Error."""


class _FakeSystemBus:
    """In-process replacement for the Gio.DBusConnection of the system bus."""

    def __init__(self):
        self._next_id = 1
        self.subscriptions = {}  # id -> (interface, signal, callback)

    # Same positional signature as Gio.DBusConnection.signal_subscribe.
    def signal_subscribe(self, sender, interface_name, member, object_path,
                         arg0, flags, callback, *user_data):
        sub_id = self._next_id
        self._next_id += 1
        self.subscriptions[sub_id] = (interface_name, member, callback)
        return sub_id

    def signal_unsubscribe(self, sub_id):
        self.subscriptions.pop(sub_id, None)

    def emit(self, object_path, interface_name, signal_name, parameters):
        """Deliver a signal as GLib would: callback(connection, sender, path,
        interface, signal, parameters)."""
        for iface, member, callback in list(self.subscriptions.values()):
            if (iface is None or iface == interface_name) and \
                    (member is None or member == signal_name):
                callback(self, ':1.42', object_path, interface_name,
                         signal_name, parameters)


# The install "script" RAUC (1.x) reports for a plain bundle: (percentage,
# message, nesting depth) values of the Progress property, in order.
RAUC_PROGRESS_STEPS = [
    (0, 'Installing', 1),
    (0, 'Determining slot states', 2),
    (20, 'Determining slot states done.', 2),
    (20, 'Checking bundle', 2),
    (40, 'Checking bundle done.', 2),
    (60, 'Updating slots', 2),
    (100, 'Updating slots done.', 2),
    (100, 'Installing done.', 1),
]


class FakeRaucInstaller:
    """Replaces the Gio.DBusProxy for de.pengutronix.rauc.Installer at '/'."""

    INTERFACE = 'de.pengutronix.rauc.Installer'

    def __init__(self, bus):
        self.bus = bus

    def get_cached_property_names(self):
        return ['Operation', 'LastError', 'Progress', 'Compatible',
                'Variant', 'BootSlot']

    def Install(self, signature, bundle_path):  # noqa: N802 (D-Bus name)
        assert signature == '(s)', signature
        log('RAUC(fake): Install({!r})'.format(bundle_path))
        problem = STATE.verify_bundle(bundle_path)
        if problem:
            STATE.install_problem = problem
            # What a real RAUC D-Bus call failure looks like to the package.
            raise _GLibError('rauc-fake: bundle rejected: ' + problem)
        shutil.copyfile(bundle_path, STATE.installed_path)
        log('RAUC(fake): bundle written to {}'.format(STATE.installed_path))

        loop = asyncio.get_running_loop()
        props = 'org.freedesktop.DBus.Properties'
        events = [('PropertiesChanged', (self.INTERFACE,
                                         {'Operation': 'installing',
                                          'LastError': ''}, []))]
        for step in RAUC_PROGRESS_STEPS:
            events.append(('PropertiesChanged',
                           (self.INTERFACE, {'Progress': step}, [])))
        events.append(('PropertiesChanged',
                       (self.INTERFACE, {'Operation': 'idle'}, [])))
        events.append(('Completed', (0,)))
        for i, (signal, params) in enumerate(events):
            iface = props if signal == 'PropertiesChanged' else self.INTERFACE
            loop.call_later(0.05 * (i + 1), self.bus.emit, '/', iface,
                            signal, params)


def _install_fake_gi():
    bus = _FakeSystemBus()

    glib = types.SimpleNamespace(Error=_GLibError)

    def bus_get_sync(bus_type, cancellable):
        return bus

    def proxy_new_sync(connection, flags, info, name, object_path, interface,
                       cancellable):
        if interface != FakeRaucInstaller.INTERFACE:
            raise _GLibError('rauc-fake: unknown interface ' + interface)
        return FakeRaucInstaller(connection)

    gio = types.SimpleNamespace(
        BusType=types.SimpleNamespace(SYSTEM=1, SESSION=2),
        bus_get_sync=bus_get_sync,
        DBusProxy=types.SimpleNamespace(new_sync=proxy_new_sync),
    )
    gi = types.ModuleType('gi')
    repository = types.ModuleType('gi.repository')
    repository.GLib = glib
    repository.Gio = gio
    gi.repository = repository
    sys.modules['gi'] = gi
    sys.modules['gi.repository'] = repository


_install_fake_gi()

import aiohttp  # noqa: E402
from rauc_hawkbit.rauc_dbus_ddi_client import RaucDBUSDDIClient  # noqa: E402
from rauc_hawkbit.ddi.client import APIError  # noqa: E402

# --------------------------------------------------------------------------


def log(msg):
    print('[drive] ' + msg, flush=True)


def err(msg):
    print('[drive] ERROR: ' + msg, file=sys.stderr, flush=True)


class State:
    def __init__(self):
        self.done = None            # asyncio.Future: (kind, detail)
        self.installed_path = None
        self.deployment = None      # last deploymentBase JSON seen
        self.install_problem = None
        self.http_errors = []       # (method, url, status, body)
        self.feedback_bodies = []   # raw JSON strings of feedback POSTs
        self.closed_answered = False
        self.keep_going = False

    def finish(self, kind, detail=None):
        if self.done is not None and not self.done.done():
            self.done.set_result((kind, detail))

    def verify_bundle(self, path):
        """Checks the downloaded bundle against the deployment's artifact."""
        try:
            artifact = self.deployment['deployment']['chunks'][0]['artifacts'][0]
        except (TypeError, KeyError, IndexError):
            return 'no artifact in the deploymentBase answer'
        with open(path, 'rb') as f:
            data = f.read()
        expected_size = artifact.get('size')
        if expected_size is not None and expected_size != len(data):
            return 'size {} != artifact size {}'.format(len(data), expected_size)
        hashes = artifact.get('hashes', {})
        for algo in ('md5', 'sha1', 'sha256'):
            if algo in hashes:
                got = hashlib.new(algo, data).hexdigest()
                if got != hashes[algo].lower():
                    return '{} {} != artifact {} {}'.format(
                        algo, got, algo, hashes[algo])
        log('artifact verified: {} bytes, hashes {}'.format(
            len(data), ', '.join(sorted(hashes))))
        return None


STATE = State()


def make_trace_config():
    """Print every request (and its body) the package sends, and each status."""
    trace = aiohttp.TraceConfig()

    async def on_request_start(session, ctx, params):
        ctx.method = params.method
        ctx.url = str(params.url)
        ctx.body = b''
        auth = params.headers.get('Authorization', '')
        scheme = auth.split(' ', 1)[0] if auth else '-'
        log('--> {} {}  (Authorization: {} ...; Content-Type: {}; Accept: {})'
            .format(params.method, params.url, scheme,
                    params.headers.get('Content-Type', '-'),
                    params.headers.get('Accept', '-')))

    async def on_request_chunk_sent(session, ctx, params):
        if params.chunk:
            ctx.body += bytes(params.chunk)

    async def on_request_headers_sent(session, ctx, params):
        pass

    async def on_request_end(session, ctx, params):
        body = ctx.body.decode('utf-8', 'replace')
        if body:
            is_feedback = ctx.url.split('?')[0].endswith('/feedback')
            if is_feedback:
                STATE.feedback_bodies.append(body)
            log('    {} body: {}'.format(
                'FEEDBACK' if is_feedback else 'request', body))
        resp = params.response
        log('<-- {} {} {}'.format(resp.status, ctx.method, ctx.url))
        if ctx.method == 'POST' and ctx.url.endswith('/feedback') and body:
            try:
                sent = json.loads(body)
                if sent['status']['execution'] == 'closed':
                    # check_http_status (below) runs next for this response;
                    # in --keep-going mode it ends the run there.
                    STATE.closed_answered = True
            except (ValueError, KeyError, TypeError):
                pass

    async def on_request_exception(session, ctx, params):
        log('<-- EXCEPTION {} {}: {!r}'.format(ctx.method, ctx.url,
                                               params.exception))

    trace.on_request_start.append(on_request_start)
    trace.on_request_chunk_sent.append(on_request_chunk_sent)
    trace.on_request_headers_sent.append(on_request_headers_sent)
    trace.on_request_end.append(on_request_end)
    trace.on_request_exception.append(on_request_exception)
    return trace


def instrument(ddi):
    """Wrap (not change) DDIClient methods on this instance."""
    orig_check = ddi.check_http_status
    orig_get = ddi.get_resource

    async def check_http_status(resp):
        if resp.status != 200:
            body = await resp.text()  # cached; the package reads it again
            STATE.http_errors.append((resp.method, str(resp.url),
                                      resp.status, body))
            err('HTTP {} for {} {}: {}'.format(resp.status, resp.method,
                                               resp.url, body))
            if not STATE.keep_going:
                STATE.finish('http-error', '{} {} -> {} {}'.format(
                    resp.method, resp.url, resp.status, body))
        if STATE.keep_going and STATE.closed_answered and \
                str(resp.url).endswith('/feedback'):
            STATE.finish('closed-answered', resp.status)
        await orig_check(resp)

    async def get_resource(api_path, *args, **kwargs):
        result = await orig_get(api_path, *args, **kwargs)
        if '/deploymentBase/' in api_path:
            STATE.deployment = result
            log('deploymentBase answer: ' + json.dumps(result))
        elif api_path.endswith('{controllerId}'):
            log('poll answer: ' + json.dumps(result))
        return result

    ddi.check_http_status = check_http_status
    ddi.get_resource = get_resource


def parse_bool(value):
    v = value.strip().lower()
    if v in ('1', 'true', 'yes', 'on'):
        return True
    if v in ('0', 'false', 'no', 'off'):
        return False
    raise argparse.ArgumentTypeError('expected true/false, got ' + value)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--server', required=True,
                   help='host:port of the DDI server (no scheme)')
    p.add_argument('--tenant', default='DEFAULT')
    p.add_argument('--controller-id', required=True)
    tok = p.add_mutually_exclusive_group(required=True)
    tok.add_argument('--auth-token', help='target security token')
    tok.add_argument('--gateway-token', help='tenant gateway token')
    p.add_argument('--ssl', type=parse_bool, default=False,
                   help='true for https (default false)')
    p.add_argument('--bundle-dir', required=True,
                   help='existing writable dir for bundle.raucb/installed.raucb')
    p.add_argument('--timeout', type=float, default=60.0,
                   help='overall limit in seconds (default 60)')
    p.add_argument('--mac', default='ff:ff:ff:ff:ff:ff',
                   help='MAC attribute sent in configData, as the upstream '
                        'rauc-hawkbit-client script does')
    p.add_argument('--keep-going', action='store_true',
                   help='do not stop at the first HTTP error: run the '
                        "package's own start_polling() retry loop (1 s retry) "
                        'until the closed feedback got an answer or timeout; '
                        'exit 1 if any request was refused')
    p.add_argument('--debug', action='store_true',
                   help="show the package's own debug log")
    return p.parse_args(argv)


async def run(args):
    loop = asyncio.get_running_loop()
    STATE.done = loop.create_future()
    STATE.keep_going = args.keep_going
    STATE.installed_path = os.path.join(args.bundle_dir, 'installed.raucb')
    bundle_path = os.path.join(args.bundle_dir, 'bundle.raucb')
    for stale in (bundle_path, STATE.installed_path):
        if os.path.exists(stale):
            os.remove(stale)

    def result_callback(result):
        log('package result_callback: {}'.format(
            'SUCCESSFUL' if result == 0 else 'FAILED ({})'.format(result)))
        STATE.finish('completed', result)

    def step_callback(percentage, message):
        log('package step_callback: {:>3}% - {}'.format(percentage, message))

    token = args.auth_token or args.gateway_token
    async with aiohttp.ClientSession(trace_configs=[make_trace_config()]) \
            as session:
        # The package's real client, exactly as its rauc-hawkbit-client script
        # builds it (attributes = {'MAC': ...}).
        client = RaucDBUSDDIClient(session, args.server, args.ssl, args.tenant,
                                   args.controller_id, token,
                                   {'MAC': args.mac}, bundle_path,
                                   result_callback, step_callback)
        if args.gateway_token:
            client.ddi.headers = {
                'Authorization': 'GatewayToken {}'.format(token)}
        instrument(client.ddi)

        if args.keep_going:
            poll = asyncio.ensure_future(client.start_polling(wait_on_error=1))
        else:
            poll = asyncio.ensure_future(client.poll_base_resource())

        def poll_finished(task):
            if task.cancelled():
                return
            exc = task.exception()
            if exc is not None:
                STATE.finish('exception', exc)
        poll.add_done_callback(poll_finished)

        try:
            kind, detail = await asyncio.wait_for(asyncio.shield(STATE.done),
                                                  args.timeout)
        except asyncio.TimeoutError:
            kind, detail = 'timeout', None
        finally:
            poll.cancel()
            try:
                await poll
            except BaseException:  # noqa: B902 - cancelled or already reported
                pass
            # Let in-flight D-Bus events (feedback POSTs) settle briefly.
            await asyncio.sleep(0.1)
            client.cleanup_dbus()

        # Informational: what the server shows the device after the update.
        if kind == 'completed' and detail == 0 and not STATE.http_errors:
            try:
                base = await client.ddi()
                log('post-update poll links: {}'.format(
                    sorted(base.get('_links', {}).keys())))
            except Exception as e:  # noqa: BLE001 - report only
                err('post-update poll failed: {!r}'.format(e))

    log('feedback bodies sent: {}'.format(len(STATE.feedback_bodies)))
    if STATE.http_errors:
        for method, url, status, body in STATE.http_errors:
            err('refused: {} {} -> {} {}'.format(method, url, status, body))
        return 1
    if kind == 'completed':
        if detail == 0:
            log('OK: deployment downloaded, installed (fake RAUC) and '
                'closed/success feedback accepted')
            return 0
        err('installation reported result {}'.format(detail))
        return 3
    if kind == 'exception':
        if STATE.install_problem:
            err('artifact verification failed: ' + STATE.install_problem)
            return 3
        if isinstance(detail, APIError):
            err('package raised APIError: {}'.format(detail))
        else:
            err('package raised {!r}'.format(detail))
        return 1
    if kind == 'closed-answered':
        return 0
    if kind == 'http-error':
        err(detail)
        return 1
    err('timeout after {}s: {}'.format(
        args.timeout,
        'no deployment seen' if STATE.deployment is None else
        'deployment seen but install/feedback did not complete'))
    return 2


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    if not os.path.isdir(args.bundle_dir) or \
            not os.access(args.bundle_dir, os.W_OK):
        err('--bundle-dir must be an existing writable directory')
        return 64
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format='[rauc_hawkbit] %(levelname)s %(message)s')
    started = time.monotonic()
    code = asyncio.run(run(args))
    log('exit {} after {:.1f}s'.format(code, time.monotonic() - started))
    return code


if __name__ == '__main__':
    sys.exit(main())
