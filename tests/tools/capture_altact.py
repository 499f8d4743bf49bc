#!/usr/bin/env python3
"""Record the ALTACT_SIG_SEND packets an OTP 28+ node sends.

Starts a private epmd and one `erl -sname b` node of the release given
(OTP 28 or later), dials it over plain TCP as py@HOST advertising the
OTP 26 mandatory flags plus PUBLISHED, FRAGMENTS, SEND_SENDER,
EXIT_PAYLOAD, DIST_MONITOR(_NAME), SPAWN, ALIAS and ALTACT_SIG, and has b
send, to a pid P = <py@HOST.1.0> and an alias R (a reference on py@HOST)
that it builds with binary_to_term/1:

  erlang:send(R, to_alias)                  a message to an alias
  erlang:send(R, prio_alias, [priority])    the same with priority
  erlang:send(P, prio_pid, [priority])      a priority message to a pid
  erlang:send({py, 'py@HOST'}, prio_name, [priority])   ... to a name
  exit(R, exit_alias)                       an exit signal to an alias
  exit(P, exit_prio, [priority])            a priority exit signal
  the first again under seq_trace           with a token

Each packet is written as it came off the socket (after the 4-byte
length) to OUT_DIR/altact_otpN_K.bin, K counting from 1 in the order
above; ticks and other packets are left out. Every process it starts is
stopped by its PID.

Usage: capture_altact.py ERL OUT_DIR [EPMD_PORT]
"""
import hashlib, os, signal, socket, struct, subprocess, sys, time

ERL = sys.argv[1]
OUT_DIR = sys.argv[2] if len(sys.argv) > 2 else '.'
EPMD_PORT = int(sys.argv[3]) if len(sys.argv) > 3 else 45371
HOST = socket.gethostname().split('.')[0]
COOKIE = b'secret'
FLAGS = (0x403070F94 | 0x1 | 0x800000 | 0x80000 | 0x400000 | 0x8 | 0x20 |
         (1 << 32) | (1 << 35) | (1 << 37))
CREATION = 0x5EED0003
OUR_CHALLENGE = 0x12345678
ALTACT = 37

EVAL_LOOP = ('L = fun F() -> case io:get_line("") of eof -> halt(); '
             'Line -> {ok, T, _} = erl_scan:string(Line), '
             '{ok, Es} = erl_parse:parse_exprs(T), '
             '{value, V, _} = erl_eval:exprs(Es, []), '
             'io:format("~p~n", [V]), F() end end, L().')

SENDS = [
    'erlang:send(R, to_alias)',
    'erlang:send(R, prio_alias, [priority])',
    'erlang:send(P, prio_pid, [priority])',
    "erlang:send({py, 'py@%s'}, prio_name, [priority])" % HOST,
    'exit(R, exit_alias)',
    'exit(P, exit_prio, [priority])',
    'seq_trace:set_token(label, 7), erlang:send(R, traced), '
    'seq_trace:set_token([])',
]


def log(*args):
    print(*args, file=sys.stderr)


def recv_exact(s, n):
    buf = b''
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError('peer closed after %d of %d bytes' % (len(buf), n))
        buf += chunk
    return buf


def recv_handshake(s):
    return recv_exact(s, struct.unpack('>H', recv_exact(s, 2))[0])


def send_handshake(s, body):
    s.sendall(struct.pack('>H', len(body)) + body)


def digest(challenge):
    return hashlib.md5(COOKIE + str(challenge).encode()).digest()


def dial(port):
    s = socket.create_connection(('127.0.0.1', port))
    name = ('py@' + HOST).encode()
    send_handshake(s, b'N' + struct.pack('>QIH', FLAGS, CREATION, len(name))
                   + name)
    status = recv_handshake(s)
    assert status == b'sok', status
    ch = recv_handshake(s)
    assert ch[:1] == b'N', ch
    log('negotiated flags 0x%x' % (FLAGS & struct.unpack('>Q', ch[1:9])[0]))
    send_handshake(s, b'r' + struct.pack('>I', OUR_CHALLENGE) +
                   digest(struct.unpack('>I', ch[9:13])[0]))
    assert recv_handshake(s) == b'a' + digest(OUR_CHALLENGE)
    return s


def recv_altact(s):
    """The next ALTACT_SIG_SEND packet (131 68 0 | {37, ...} | ...)."""
    while True:
        data = recv_exact(s, struct.unpack('>I', recv_exact(s, 4))[0])
        # 131 68 0, then a small tuple whose first element is 37.
        if len(data) > 6 and data[:3] == b'\x83\x44\x00' and \
                data[3] == 104 and data[5] == 97 and data[6] == ALTACT:
            log('ALTACT_SIG_SEND, %d bytes: %s' % (len(data), data.hex()))
            return data
        if data:
            log('skipped packet of %d bytes: %s' % (len(data), data[:24].hex()))


def command(erl, expr):
    erl.stdin.write(expr + '\n')
    erl.stdin.flush()


def main():
    socket.setdefaulttimeout(10)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit('terminated'))
    procs = []
    got = []
    try:
        epmd = os.path.join(os.path.dirname(ERL), 'epmd')
        procs.append(subprocess.Popen([epmd, '-port', str(EPMD_PORT)]))
        time.sleep(0.5)
        env = dict(os.environ, ERL_EPMD_PORT=str(EPMD_PORT))
        erl = subprocess.Popen([ERL, '-sname', 'b', '-setcookie', 'secret',
                                '-noshell', '-eval', EVAL_LOOP], env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
        procs.append(erl)
        b_port = None
        for _ in range(50):
            s = socket.create_connection(('127.0.0.1', EPMD_PORT))
            s.sendall(struct.pack('>H', 2) + b'zb')
            info = s.recv(64)
            s.close()
            if len(info) >= 4 and info[1] == 0:
                b_port = struct.unpack('>H', info[2:4])[0]
                break
            time.sleep(0.2)
        assert b_port, 'b did not register with epmd'
        s = dial(b_port)
        node = 'py@' + HOST
        # b's loop keeps no bindings from line to line: each line makes
        # P and R again.
        let = ('N = <<"%s">>, Cr = 16#%X, '
               'P = binary_to_term(<<131, 88, 119, (byte_size(N)), N/binary, '
               '1:32, 0:32, Cr:32>>), '
               'R = binary_to_term(<<131, 90, 3:16, 119, (byte_size(N)), '
               'N/binary, Cr:32, 1:32, 2:32, 3:32>>), ' % (node, CREATION))
        for expr in SENDS:
            command(erl, let + expr + '.')
            got.append(recv_altact(s))
        s.close()
    finally:
        for p in reversed(procs):
            p.kill()
            p.wait()
    release = subprocess.run([ERL, '-noshell', '-eval',
                              'io:format("~s", [erlang:system_info('
                              'otp_release)]), halt().'],
                             capture_output=True, text=True).stdout
    for k, data in enumerate(got, 1):
        path = os.path.join(OUT_DIR, 'altact_otp%s_%d.bin' % (release, k))
        with open(path, 'wb') as f:
            f.write(data)
        log('wrote %s (%d bytes)' % (path, len(data)))


if __name__ == '__main__':
    main()
