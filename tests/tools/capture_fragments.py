#!/usr/bin/env python3
"""Record fragmented distribution messages sent by a real OTP node.

Starts a private epmd and one `erl -sname b -setcookie secret` node, dials
it over plain TCP as py@HOST advertising the OTP 26 mandatory flags plus
FRAGMENTS and PUBLISHED (no DIST_HDR_ATOM_CACHE, so every header has N = 0),
and then has b send large binaries to the registered name `py` on our node:

  frag_otp25_150000.bin
      one process sends B = << <<(I rem 251)>> || I <- lists:seq(0, 149999)
      >>: REG_SEND {6, From, '', py} with a 150 000-byte BINARY_EXT, which
      OTP splits into three fragments.
  frag_otp25_two_senders.bin
      two processes send {1, P} and {2, P}, P = binary:part(B, 0, 70000),
      at the same moment: two sequences of two fragments with different
      SeqIds, in whatever order OTP wrote them (OTP 25.2.3 wrote each
      sequence whole).

Each file holds the fragment packets exactly as they came off the socket,
4-byte length prefixes included, in arrival order; the packets OTP sends
on connecting (rex features_request, global init_connect) and ticks are
left out. The fixtures in tests/unit/data/ came from one run of it against
OTP 25.2.3. Every process it starts is stopped by its PID.

Usage: capture_fragments.py OUT_DIR [EPMD_PORT]
"""
import hashlib, os, signal, socket, struct, subprocess, sys, time

OUT_DIR = sys.argv[1] if len(sys.argv) > 1 else '.'
EPMD_PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 45370
HOST = socket.gethostname().split('.')[0]
COOKIE = b'secret'
# Mandatory (OTP 26+) | FRAGMENTS | PUBLISHED.
FLAGS = 0x403070F94 | 0x800000 | 0x1
CREATION = 0x5EED0002
OUR_CHALLENGE = 0x12345678
FRAG_FIRST, FRAG_CONT = 69, 70

# b evaluates one Erlang expression per line of its stdin.
EVAL_LOOP = ('L = fun F() -> case io:get_line("") of eof -> halt(); '
             'Line -> {ok, T, _} = erl_scan:string(Line), '
             '{ok, Es} = erl_parse:parse_exprs(T), '
             '{value, V, _} = erl_eval:exprs(Es, []), '
             'io:format("~p~n", [V]), F() end end, L().')
BIN = '<< <<(I rem 251)>> || I <- lists:seq(0, 149999) >>'


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
    """The initiator's side of the version-6 handshake."""
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


def recv_fragments(s, sequences):
    """Reads packets until `sequences` messages are complete; returns the
    fragment packets, length prefixes included, in arrival order."""
    out, done = [], 0
    while done < sequences:
        hdr = recv_exact(s, 4)
        data = recv_exact(s, struct.unpack('>I', hdr)[0])
        if len(data) < 18 or data[0] != 131 or data[1] not in (FRAG_FIRST,
                                                               FRAG_CONT):
            log('skipped packet of %d bytes: %s' % (len(data),
                                                    data[:24].hex()))
            continue
        seq, frag = struct.unpack('>QQ', data[2:18])
        log('fragment 131 %d, %d bytes, SeqId 0x%x, FragId %d' %
            (data[1], len(data), seq, frag))
        out.append(hdr + data)
        if frag == 1:
            done += 1
    return b''.join(out)


def command(erl, expr):
    erl.stdin.write(expr + '\n')
    erl.stdin.flush()


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
        erl = subprocess.Popen(['erl', '-sname', 'b', '-setcookie', 'secret',
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
        dest = "{py, 'py@%s'}" % HOST
        command(erl, 'B = %s, %s ! B, ok.' % (BIN, dest))
        one = recv_fragments(s, 1)
        command(erl, 'P = binary:part(%s, 0, 70000), [spawn(fun() -> %s ! '
                '{N, P} end) || N <- [1, 2]], ok.' % (BIN, dest))
        two = recv_fragments(s, 2)
        s.close()
    finally:
        for p in reversed(procs):
            p.kill()
            p.wait()
    for name, data in (('frag_otp25_150000.bin', one),
                       ('frag_otp25_two_senders.bin', two)):
        with open(os.path.join(OUT_DIR, name), 'wb') as f:
            f.write(data)
        log('wrote %s (%d bytes)' % (name, len(data)))


if __name__ == '__main__':
    main()
