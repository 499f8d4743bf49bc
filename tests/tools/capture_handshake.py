#!/usr/bin/env python3
"""Record real OTP distribution handshakes and EPMD replies over plain TCP.

Starts a private epmd and one `erl -sname b -setcookie secret` node, plays
the other side of each exchange with a fixed challenge (0x12345678), and
writes every message in both directions as hex: JSON on stdout, progress
on stderr.  The fixtures in tests/unit/test_handshake.c and
test_epmd_codec.c came from one run of it against OTP 25.2.3.

Exchanges: b dials us (we answer ok, alive, ok_simultaneous); we dial b
(ok, then again while connected, which gets "alive"); we dial without
mandatory flags (not_allowed) and with a wrong digest (b just closes).
Every process it starts is stopped by its PID.

Usage: capture_handshake.py [EPMD_PORT] > capture.json
"""
import hashlib, json, os, signal, socket, struct, subprocess, sys, time

EPMD_PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 45369
HOST = socket.gethostname().split('.')[0]
COOKIE = b'secret'
FLAGS = 0xD07DF7FBD          # OTP 25's own visible flag word
CREATION = 0x5EED0001
OUR_CHALLENGE = 0x12345678   # what the test's random32 returns
log = []

def rec(what, direction, data):
    """direction: 'in' from OTP, 'out' from us, 'note' for other facts."""
    print(what, direction, data.hex(), file=sys.stderr)
    log.append({'what': what, 'dir': direction, 'hex': data.hex()})

def digest(challenge):
    return hashlib.md5(COOKIE + str(challenge).encode()).digest()

def recv_exact(s, n):
    buf = b''
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError('peer closed after %d of %d bytes' % (len(buf), n))
        buf += chunk
    return buf

def recv_msg(s, what):
    hdr = recv_exact(s, 2)
    body = recv_exact(s, struct.unpack('>H', hdr)[0])
    rec(what, 'in', hdr + body)
    return body

def send_msg(s, what, body):
    data = struct.pack('>H', len(body)) + body
    rec(what, 'out', data)
    s.sendall(data)

def recv_rest(s, what, wait=0.5):
    s.settimeout(wait)
    buf = b''
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except socket.timeout:
        pass
    s.settimeout(10)
    rec(what, 'in', buf)
    return buf

def epmd_request(req, what, keep=False):
    s = socket.create_connection(('127.0.0.1', EPMD_PORT))
    data = struct.pack('>H', len(req)) + req
    rec(what, 'out', data)
    s.sendall(data)
    if keep:
        return s, recv_exact(s, 6)
    buf = b''
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    s.close()
    rec(what, 'in', buf)
    return buf

def alive2_req(alive, port):
    a = alive.encode()
    return (struct.pack('>BHBBHHH', 120, port, 77, 0, 6, 5, len(a)) + a +
            struct.pack('>H', 0))

def send_name(s, name, flags=FLAGS):
    n = name.encode()
    send_msg(s, 'send_name', b'N' + struct.pack('>QIH', flags, CREATION,
                                                 len(n)) + n)

def initiate(port, name, what, flags=FLAGS, cookie_ok=True):
    """We dial b: send_name, status, challenge, reply, ack."""
    s = socket.create_connection(('127.0.0.1', port))
    send_name(s, name, flags)
    status = recv_msg(s, what + ' status')
    if status == b'salive':
        send_msg(s, what + ' alive answer', b'strue')
    elif status not in (b'sok', b'sok_simultaneous'):
        s.close()
        return None
    ch = recv_msg(s, what + ' challenge')
    peer_challenge = struct.unpack('>I', ch[9:13])[0]
    d = digest(peer_challenge)
    if not cookie_ok:
        d = bytes(x ^ 0xFF for x in d)
    send_msg(s, what + ' reply', b'r' + struct.pack('>I', OUR_CHALLENGE) + d)
    if not cookie_ok:
        recv_rest(s, what + ' after bad reply (expect close)', wait=3)
        s.close()
        return None
    ack = recv_msg(s, what + ' ack')
    assert ack == b'a' + digest(OUR_CHALLENGE), 'bad ack digest from OTP'
    recv_rest(s, what + ' after ack')
    return s

def accept(listener, name, what, status=b'ok'):
    """b dials us: name, status, challenge, reply, ack."""
    s, _ = listener.accept()
    m = recv_msg(s, what + ' send_name')
    assert m[:1] == b'N'
    send_msg(s, what + ' status', b's' + status)
    if status == b'alive':
        assert recv_msg(s, what + ' alive answer') == b'strue'
    n = name.encode()
    send_msg(s, what + ' challenge', b'N' + struct.pack(
        '>QIIH', FLAGS, OUR_CHALLENGE, CREATION, len(n)) + n)
    r = recv_msg(s, what + ' reply')
    assert r[5:] == digest(OUR_CHALLENGE), 'bad reply digest from OTP'
    send_msg(s, what + ' ack', b'a' + digest(struct.unpack('>I', r[1:5])[0]))
    return s

def main():
    socket.setdefaulttimeout(10)
    # Turn SIGTERM (e.g. from `timeout`) into an exception, so the finally
    # clause below still stops epmd and erl.
    signal.signal(signal.SIGTERM, lambda *a: sys.exit('terminated'))
    procs = []
    try:
        procs.append(subprocess.Popen(['epmd', '-port', str(EPMD_PORT)]))
        time.sleep(0.5)
        env = dict(os.environ, ERL_EPMD_PORT=str(EPMD_PORT))
        loop = ('L = fun F() -> case io:get_line("") of eof -> halt(); '
                'Line -> R = net_kernel:connect_node(list_to_atom('
                'string:trim(Line))), io:format("~p~n", [R]), F() end end, '
                'L().')
        erl = subprocess.Popen(['erl', '-sname', 'b', '-setcookie', 'secret',
                                '-noshell', '-eval', loop], env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
        procs.append(erl)
        for _ in range(50):
            names = epmd_request(b'n', 'names')
            if b'name b ' in names:
                break
            time.sleep(0.2)
        info = epmd_request(b'z' + b'b', 'port_please2 b')
        b_port = struct.unpack('>H', info[2:4])[0]
        epmd_request(b'z' + b'nosuch', 'port_please2 nosuch')
        dup, resp = epmd_request(alive2_req('b', 1), 'alive2 duplicate b',
                                 keep=True)
        rec('alive2 duplicate b', 'in', resp)
        dup.close()

        listener = socket.socket()
        listener.bind(('127.0.0.1', 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        regs = []
        for alive in ('pya', 'pyb', 'pyc'):
            reg, resp = epmd_request(alive2_req(alive, port),
                                     'alive2 ' + alive, keep=True)
            rec('alive2 ' + alive, 'in', resp)
            regs.append(reg)
        epmd_request(b'n', 'names (b, pya, pyb, pyc)')

        for alive, status in (('pya', b'ok'), ('pyb', b'alive'),
                              ('pyc', b'ok_simultaneous')):
            erl.stdin.write('%s@%s\n' % (alive, HOST))
            erl.stdin.flush()
            what = 'otp initiates, status ' + status.decode()
            a = accept(listener, alive + '@' + HOST, what, status)
            rec(what + ': connect_node', 'note',
                erl.stdout.readline().encode())
            a.close()

        first = initiate(b_port, 'py@' + HOST, 'we initiate')
        second = initiate(b_port, 'py@' + HOST, 'we initiate again (alive)')
        for s in (first, second):
            if s:
                s.close()
        # MANDATORY_25_DIGEST stands for the whole OTP 25 set, so it must
        # go too for OTP to notice that BIG_CREATION is missing.
        initiate(b_port, 'pyx@' + HOST, 'missing flags',
                 flags=FLAGS & ~(0x40000 | 0x4000000))
        initiate(b_port, 'pyw@' + HOST, 'wrong cookie', cookie_ok=False)
        for reg in regs:
            reg.close()
    finally:
        for p in reversed(procs):
            p.kill()
            p.wait()
    json.dump({'host': HOST, 'cookie': COOKIE.decode(), 'flags': FLAGS,
               'creation': CREATION, 'challenge': OUR_CHALLENGE,
               'messages': log}, sys.stdout, indent=1)
    print()

if __name__ == '__main__':
    main()
