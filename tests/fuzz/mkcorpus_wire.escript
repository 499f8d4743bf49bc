#!/usr/bin/env escript
%% mkcorpus_wire.escript - the seeds of tests/fuzz/fuzz_wire.c.
%%
%%   escript tests/fuzz/mkcorpus_wire.escript tests/fuzz/corpus/wire
%%
%% Each seed is fuzz_wire's input: an options byte, then what real@vm
%% sends to fake@vm once the handshake is done, packets of Len:32 | Data.
%% The terms are OTP's own term_to_binary/1; pids and references of the
%% two nodes are made with binary_to_term/1 from their external format,
%% with the numbers fuzz_wire.c gives its mailboxes, alias and monitors.
%% Every control message comes in the pass-through form (112) and in the
%% distribution header form (131 68, with the FRAGMENTS option bit).

-define(OPT_FRAGMENTS, 1).
-define(OPT_CLOSE, 2).
-define(OPT_SMALL, 4).
-define(OPT_PIECES_7, 8).
-define(OPT_PIECES_64, 16).

main([Dir]) ->
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    Seeds = seeds(),
    lists:foreach(
      fun({Name, Opts, Packets}) ->
              Data = [<<Opts>> | [frame(P) || P <- Packets]],
              ok = file:write_file(filename:join(Dir, Name), Data)
      end, Seeds),
    io:format("~b seeds in ~s~n", [length(Seeds), Dir]);
main(_) ->
    io:format(standard_error, "usage: mkcorpus_wire.escript DIR~n", []),
    halt(2).

%% ---- pids and references ------------------------------------------------

-define(FAKE_CR, 16#1234ABCD).
-define(REAL_CR, 16#5A).

pid(Node, Num, Cr) ->
    N = atom_to_binary(Node, utf8),
    binary_to_term(<<131, 88, 119, (byte_size(N)), N/binary, Num:32, 0:32,
                     Cr:32>>).

ref(Node, Cr, Words) ->
    N = atom_to_binary(Node, utf8),
    binary_to_term(<<131, 90, (length(Words)):16, 119, (byte_size(N)),
                     N/binary, Cr:32, << <<W:32>> || W <- Words >>/binary>>).

echo() -> pid('fake@vm', 1, ?FAKE_CR).       % registered echo, traps exits
victim() -> pid('fake@vm', 2, ?FAKE_CR).     % registered victim
watcher() -> pid('fake@vm', 3, ?FAKE_CR).    % alias, monitors nodes
linked() -> pid('fake@vm', 4, ?FAKE_CR).     % linked to real9(), monitors it
nobody() -> pid('fake@vm', 77, ?FAKE_CR).
real9() -> pid('real@vm', 9, ?REAL_CR).
real(N) -> pid('real@vm', N, ?REAL_CR).
fake_alias() -> ref('fake@vm', ?FAKE_CR, [1, 16#5EED, 16#F00D]).
mon_by_pid() -> ref('fake@vm', ?FAKE_CR, [2, 16#5EED, 16#F00D]).
mon_by_name() -> ref('fake@vm', ?FAKE_CR, [3, 16#5EED, 16#F00D]).
rref(N) -> ref('real@vm', ?REAL_CR, [N, 16#A1, 16#B2]).
fake_gns() -> pid('fake@vm', 5, ?FAKE_CR).   % global's own process
fref(N) -> ref('fake@vm', ?FAKE_CR, [N, 16#5EED, 16#F00D]). % our Nth ref
fake_pg() -> pid('fake@vm', 8, ?FAKE_CR).    % the pg scope

%% ---- packets -------------------------------------------------------------

frame(tick) -> <<0:32>>;
frame({raw, Bin}) -> <<(byte_size(Bin)):32, Bin/binary>>.

%% A control message, with or without a message, in each form.
pt(Ctrl) -> {raw, <<112, (t2b(Ctrl))/binary>>}.
pt(Ctrl, Msg) ->
    {raw, <<112, (t2b(Ctrl))/binary, (t2b(Msg))/binary>>}.
hdr(Ctrl) -> {raw, <<131, 68, 0, (bare(Ctrl))/binary>>}.
hdr(Ctrl, Msg) -> {raw, <<131, 68, 0, (bare(Ctrl))/binary, (bare(Msg))/binary>>}.
bare(T) -> <<131, B/binary>> = t2b(T), B.

%% Atoms as the distribution sends them: UTF-8.
t2b(T) -> term_to_binary(T, [{minor_version, 2}]).

%% The header form of Ctrl + Msg cut into fragments of Size bytes.
frags(Seq, Ctrl, Msg, Size) ->
    Body = <<(bare(Ctrl))/binary, (bare(Msg))/binary>>,
    Pieces = cut(Body, Size),
    N = length(Pieces),
    [case I of
         N -> {raw, <<131, 69, Seq:64, N:64, 0, P/binary>>};
         _ -> {raw, <<131, 70, Seq:64, I:64, P/binary>>}
     end || {I, P} <- lists:zip(lists:seq(N, 1, -1), Pieces)].

cut(B, Size) when byte_size(B) =< Size -> [B];
cut(B, Size) -> <<P:Size/binary, R/binary>> = B, [P | cut(R, Size)].

%% ---- what real@vm says ----------------------------------------------------

gen_call(Tag, Req) -> {'$gen_call', {real(40), Tag}, Req}.
alias_tag() -> [alias | rref(7)].

%% Control messages and their messages: {Name, Ctrl} or {Name, Ctrl, Msg}.
messages() ->
    GL = real(2),
    [{send_sender, {22, real(40), echo()}, {hello, [1, 2, 3], <<"bin">>}},
     {send, {2, '', watcher()}, hello},
     {send_nobody, {22, real(40), nobody()}, lost},
     {send_tt, {12, '', echo(), {0, 17, 1, real(40), 0}}, traced},
     {reg_send_echo_call, {6, real(40), '', echo},
      gen_call(rref(1), {please, answer})},
     {reg_send_echo_alias_call, {6, real(40), '', echo},
      gen_call(alias_tag(), hello)},
     {reg_send_is_auth, {6, real(40), '', net_kernel},
      gen_call(alias_tag(), {is_auth, 'real@vm'})},
     {reg_send_net_kernel_other, {6, real(40), '', net_kernel},
      gen_call(rref(2), {spawn, a, b})},
     {reg_send_rex_features, {6, real(40), '', rex},
      {real(40), features_request}},
     {reg_send_rex_reverse, {6, real(40), '', rex},
      {real(40), {call, lists, reverse, [[1, a, "b"]], GL}}},
     {reg_send_rex_string_args, {6, real(40), '', rex},
      {real(40), {call, lists, reverse, [1, 2, 3], GL}}},
     {reg_send_rex_gen_call, {6, real(40), '', rex},
      gen_call(rref(3), {call, erlang, node, [], GL})},
     {reg_send_rex_fail, {6, real(40), '', rex},
      {real(40), {call, fz, fail, [x, y], GL}}},
     {reg_send_rex_send, {6, real(40), '', rex},
      {real(40), {call, fz, send, [x], GL}}},
     {reg_send_rex_undef, {6, real(40), '', rex},
      gen_call(rref(4), {call, no_such, function, [1], GL})},
     {reg_send_global, {6, real(40), '', global_name_server},
      {'$gen_cast', {init_connect, {8, 1234}, 'real@vm', {locker, no_longer_a_pid, [], real(5)}}}},
     {reg_send_unknown_name, {6, real(40), '', nobody_here}, lost},
     {alias_send, {33, real(40), fake_alias()}, to_alias},
     {alias_send_stale, {33, real(40), rref(9)}, stale},
     {link_victim, {1, real(41), victim()}},
     {exit_victim, {3, real(41), victim(), shutdown}},
     {exit_victim_normal, {3, real(41), victim(), normal}},
     {exit2_victim_kill, {8, real(41), victim(), kill}},
     {exit2_echo, {8, real(41), echo(), {shutdown, why}}},
     {payload_exit_echo, {24, real(41), echo()}, {badarg, [{m, f, 1, []}]}},
     {payload_exit2_victim, {25, real(41), victim()}, boom},
     {unlink_id_linked, {35, 7, real9(), linked()}},
     {unlink_id_ack, {36, 7, real9(), linked()}},
     {exit_linked, {3, real9(), linked(), crashed}},
     {monitor_victim, {19, real(42), victim(), rref(10)}},
     {monitor_victim_name, {19, real(42), victim, rref(11)}},
     {monitor_nobody, {19, real(42), nobody(), rref(12)}},
     {demonitor_victim, {20, real(42), victim(), rref(10)}},
     {monitor_p_exit_pid, {21, real9(), linked(), mon_by_pid(), gone}},
     {monitor_p_exit_name, {21, peer_server, linked(), mon_by_name(), noproc}},
     {payload_monitor_p_exit, {27, real9(), linked(), mon_by_pid()},
      {big, reason}},
     {spawn_request_reverse,
      {29, rref(20), real(43), GL, {erpc, execute_call, 4}, [monitor]},
      [rref(21), lists, reverse, [[a, b, c]]]},
     {spawn_request_node,
      {29, rref(22), real(43), GL, {erpc, execute_call, 4}, [link, monitor]},
      [rref(23), erlang, node, []]},
     {spawn_request_fail,
      {29, rref(24), real(43), GL, {erpc, execute_call, 4}, [monitor]},
      [rref(25), fz, fail, [1, 2]]},
     {spawn_request_undef,
      {29, rref(26), real(43), GL, {erpc, execute_call, 4}, []},
      [rref(27), no, such, []]},
     {spawn_request_other,
      {29, rref(28), real(43), GL, {io, format, 1}, [monitor]}, ["hi~n"]},
     {spawn_request_tt,
      {30, rref(29), real(43), GL, {erpc, execute_call, 4}, [monitor],
       {0, 17, 1, real(40), 0}},
      [rref(30), lists, reverse, [[]]]},
     {group_leader, {4, real(44), echo()}}].

seeds() ->
    Single =
        lists:append(
          [begin
               {Name, P, H} = case M of
                                  {N, C} -> {N, pt(C), hdr(C)};
                                  {N, C, Msg} -> {N, pt(C, Msg), hdr(C, Msg)}
                              end,
               [{"pt_" ++ atom_to_list(Name), 0, [P]},
                {"hdr_" ++ atom_to_list(Name), ?OPT_FRAGMENTS, [H]}]
           end || M <- messages()]),
    Big = {lists:seq(1, 40), list_to_binary(lists:duplicate(200, $x))},
    Frag = frags(16#48, {6, real(40), '', echo}, Big, 100),
    Other = frags(16#49, {22, real(40), watcher()}, {other, Big}, 150),
    [_, _, Last] = Frag,
    Interleaved = lists:append(lists:zipwith(fun(A, B) -> [A, B] end,
                                             lists:sublist(Frag, 2), lists:sublist(Other, 2))),
    Single ++
        [{"ticks", 0, [tick, tick, pt({2, '', echo()}, after_ticks), tick]},
         {"fragments", ?OPT_FRAGMENTS, Frag},
         {"fragments_interleaved", ?OPT_FRAGMENTS,
          Interleaved ++ lists:nthtail(2, Frag) ++ lists:nthtail(2, Other)},
         {"fragments_missing_first", ?OPT_FRAGMENTS, [Last]},
         {"fragments_too_big", ?OPT_FRAGMENTS bor ?OPT_SMALL, Frag},
         {"too_big_whole", ?OPT_SMALL, [pt({22, real(40), echo()}, Big)]},
         {"link_then_close", ?OPT_CLOSE,
          [pt({1, real(41), victim()}), pt({1, real(41), echo()}),
           pt({19, real(42), echo(), rref(13)})]},
         {"monitor_then_exit", ?OPT_FRAGMENTS bor ?OPT_PIECES_7,
          [hdr({19, real(42), victim, rref(11)}),
           hdr({8, real(41), victim(), kill}),
           hdr({6, real(40), '', victim}, late)]},
         {"calls_in_pieces", ?OPT_PIECES_64 bor ?OPT_CLOSE,
          [pt({6, real(40), '', echo}, gen_call(rref(1), one)),
           pt({6, real(40), '', rex},
              {real(40), {call, lists, reverse, [[1, 2]], real(2)}}),
           pt({29, rref(20), real(43), real(2), {erpc, execute_call, 4},
               [monitor]}, [rref(21), fz, send, [a]])]},
         {"unlink_and_exit", ?OPT_FRAGMENTS bor ?OPT_CLOSE,
          [hdr({35, 7, real9(), linked()}), hdr({3, real9(), linked(), late}),
           hdr({21, real9(), linked(), mon_by_pid(), gone})]}] ++
        global_seeds() ++ pg_seeds().

%% ---- global's connect session -----------------------------------------------
%%
%% real@vm's global_name_server and locker (real(5)) as OTP 25-29 run a
%% connect session with fake@vm, whose global_name_server is fake_gns():
%% our session tag is 1 (2 after a restart); our refs count on from 4.

gns(Msg) -> pt({6, real(5), '', global_name_server}, Msg).
gns_cast(Msg) -> gns({'$gen_cast', Msg}).
gns_call(Tag, Req) -> gns({'$gen_call', {real(5), rref(Tag)}, Req}).
method() -> {global, random_exit_name, 3}.
lock_id() -> [fake_gns(), real(5)].

%% The session up to both lock_sets: his init_connect, his locker's
%% set_lock on us, his lock_set.
global_locked() ->
    [gns_cast({init_connect, {8, 1234}, 'real@vm',
               {locker, no_longer_a_pid, [], real(5)}}),
     gns_call(50, {set_lock, {global, lock_id()}}),
     gns_cast({lock_set, real(5), true, [], 1})].

global_seeds() ->
    [{"global_session", 0,
      global_locked() ++
          [gns_cast({exchange, 'real@vm',
                     [{name_a, real(9), method()}, {name_b, real(10), method()}],
                     [], 1}),
           gns_cast({resolved, 'real@vm',
                     [{insert, {name_c, real(11), method()}}],
                     [{'real@vm', 8}], unused, [{name_c, real(11), 'real@vm'}],
                     1}),
           gns_call(51, {del_lock, {global, lock_id()}}),
           gns_call(52, get_known), gns_call(53, get_synced),
           gns_call(54, get_names_ext), gns_call(55, get_protocol_version)]},
     %% A name registered on both sides: we are the smaller node name, so
     %% we ask rex on the node of our process to resolve it; its answer
     %% comes to global's pid, tagged with our 6th ref.
     {"global_clash", 0,
      [gns_call(60, {register, clash, real(9), method()})] ++
          global_locked() ++
          [gns_cast({exchange, 'real@vm', [{clash, real(10), method()}], [], 1}),
           pt({2, '', fake_gns()}, {fref(6), real(10)}),
           gns_cast({resolved, 'real@vm', [], [], unused, [], 1})]},
     %% The clash again, settled the other ways: ours wins, rex fails,
     %% or real@vm goes before rex answers.
     {"global_clash_ours", 0,
      [gns_call(60, {register, clash, real(9), method()})] ++
          global_locked() ++
          [gns_cast({exchange, 'real@vm', [{clash, real(10), method()}], [], 1}),
           gns_cast({resolved, 'real@vm', [], [], unused, [], 1}),
           pt({2, '', fake_gns()}, {fref(6), real(9)})]},
     {"global_clash_badrpc", 0,
      [gns_call(60, {register, clash, real(9), method()})] ++
          global_locked() ++
          [gns_cast({exchange, 'real@vm', [{clash, real(10), method()}], [], 1}),
           pt({2, '', fake_gns()}, {fref(6), {badrpc, nodedown}}),
           gns_cast({resolved, 'real@vm', [], [], unused, [], 1})]},
     {"global_clash_nodedown", ?OPT_CLOSE,
      [gns_call(60, {register, clash, real(9), method()})] ++
          global_locked() ++
          [gns_cast({exchange, 'real@vm', [{clash, real(10), method()}], [],
                     1})]},
     %% A name of a process of ours: the other side's registration wins.
     {"global_clash_local", 0,
      [gns_call(60, {register, mine, echo(), method()})] ++
          global_locked() ++
          [gns_cast({exchange, 'real@vm', [{mine, real(10), method()}], [], 1}),
           gns_cast({resolved, 'real@vm', [], [], unused, [], 1})]},
     %% His exchange and resolved before his lock_set (held until we are
     %% locked), each twice.
     {"global_early", 0,
      [gns_cast({init_connect, {8, 1234}, 'real@vm',
                 {locker, no_longer_a_pid, [], real(5)}}),
       gns_cast({exchange, 'real@vm', [{early, real(9), method()}], [], 1}),
       gns_cast({exchange, 'real@vm', [{twice, real(9), method()}], [], 1}),
       gns_cast({resolved, 'real@vm', [], [], unused, [], 1}),
       gns_cast({resolved, 'real@vm', [{delete, early}], [], unused, [], 1}),
       gns_call(50, {set_lock, {global, lock_id()}}),
       gns_cast({lock_set, real(5), true, [], 1})]},
     %% lock_set before the lock, with a stale tag, false, and twice.
     {"global_lock_set_spurious", 0,
      [gns_cast({lock_set, real(5), true, [], 1}),
       gns_cast({init_connect, {8, 1234}, 'real@vm',
                 {locker, no_longer_a_pid, [], real(5)}}),
       gns_cast({lock_set, real(5), true, [], 1}),
       gns_call(50, {set_lock, {global, lock_id()}}),
       gns_cast({lock_set, real(5), true, [], 9}),
       gns_cast({lock_set, real(5), false, [], 1}),
       gns_cast({lock_set, real(5), true, [], 1}),
       gns_cast({lock_set, real(5), true, [], 1})]},
     {"global_restart", 0,
      [gns_cast({init_connect, {8, 1234}, 'real@vm',
                 {locker, no_longer_a_pid, [], real(5)}}),
       gns_cast({init_connect, {8, 1235}, 'real@vm',
                 {locker, no_longer_a_pid, [], real(5)}}),
       gns({init_connect_ack, 'real@vm', 7, 1235}),
       gns({cancel_connect, 'real@vm', 2}),
       gns_cast({lock_set, real(5), true, [], 3})]},
     %% lost_connection from a third node is passed on to real@vm (whose
     %% session is pending) once; the one from real@vm about us makes us
     %% ask real@vm to disconnect and forget it.
     {"global_partition", 0,
      [gns_cast({init_connect, {8, 1234}, 'real@vm',
                 {locker, no_longer_a_pid, [], real(5)}}),
       gns_cast({new_nodes, 'real@vm',
                 [{insert, {far, real(12), method()}}, {delete, gone}], [],
                 [{'other@vm', 8}],
                 [{vsn, 8}, {lock, {global, lock_id()}}]}),
       gns({lost_connection, 'third@vm', 1, 1, 'other@vm'}),
       gns({lost_connection, 'third@vm', 1, 1, 'other@vm'}),
       gns({lost_connection, 'real@vm', 1, 1, 'fake@vm'}),
       gns_cast({in_sync, 'real@vm', true})]},
     {"global_remove_connection", 0,
      [gns_cast({init_connect, {8, 1234}, 'real@vm',
                 {locker, no_longer_a_pid, [], real(5)}}),
       gns({remove_connection, 'real@vm'})]},
     %% The calls any node makes; then the registered process dies (the
     %% monitor global set on it, our 4th ref, fires).
     {"global_calls", 0,
      [gns_call(70, {register_ext, ext, real(9), method(), 'real@vm'}),
       gns_call(71, {set_lock, {res, [real(41)]}}),
       gns_call(72, {set_lock, {res, [real(42)]}}),
       gns_call(73, {del_lock, {res, [real(41)]}}),
       gns_call(74, {unregister, nothing}),
       gns_call(75, {sync, ['real@vm']}),
       gns_call(76, {no_such_call, 1}),
       gns_cast({async_del_name, ext, real(9)}),
       pt({21, real(9), fake_gns(), fref(4), noproc}),
       gns_call(77, get_names_ext)]}].

%% ---- pg ---------------------------------------------------------------------
%%
%% real@vm's scope real(50) and fake@vm's scope `pg`, fake_pg(), where echo
%% is in group g. The first reference fake@vm makes while the input runs is
%% its monitor on real@vm's scope: fref(4).

pg_to(Msg) -> pt({22, real(50), fake_pg()}, Msg).
pg_discover() -> pt({6, real(50), '', pg}, {discover, real(50)}).
pg_sync(Groups) -> pg_to({'$gen_cast', {sync, real(50), Groups}}).

pg_seeds() ->
    [{"pg_session", 0,
      [pg_discover(),
       pg_sync([{g, [real(51)]}, {{room, "a"}, [real(52), real(53)]}]),
       pg_to({join, real(50), g, real(54)}),
       pg_to({join, real(50), h, [real(54), real(55)]}),
       pg_to({leave, real(50), real(54), [g, h]}),
       pg_to({leave, real(50), [real(51), real(99)], [g, nothing]}),
       pg_sync([{h, [real(56)]}]),
       pg_to({discover, real(50)})]},
     {"pg_discover_otp26", ?OPT_FRAGMENTS,
      [hdr({6, real(50), '', pg}, {discover, real(50), 1}),
       hdr({22, real(50), fake_pg()}, {join, real(50), g, real(51)})]},
     {"pg_unsynced", 0,
      [pg_to({join, real(50), g, real(51)}),
       pg_to({leave, real(50), real(51), [g]}),
       pg_sync([{g, [real(51)]}])]},
     {"pg_down", 0,
      [pg_discover(), pg_sync([{g, [real(51)]}]),
       pt({21, real(50), fake_pg(), fref(4), noconnection}),
       pg_to({join, real(50), g, real(52)})]},
     {"pg_nodedown", ?OPT_CLOSE,
      [pg_discover(), pg_sync([{g, [real(51)]}])]},
     {"pg_malformed", 0,
      [pg_discover(),
       pg_to({join, nobody, g, real(51)}),
       pg_to({join, real(50), g, [real(51), 42]}),
       pg_to({leave, real(50), real(51), g}),
       pg_to({leave, real(50), real(51), [g | h]}),
       pg_to({'$gen_cast', {sync, real(50), [{g}]}}),
       pg_to({'$gen_cast', {sync, real(50), not_a_list}}),
       pg_to({'$gen_cast', {local_data, real(50), 1, #{}}}),
       pg_to({discover, 42}),
       pg_to({discover, pid('other@vm', 1, 1)}),
       pg_to({update, real(50), []}),
       pg_to(hello)]}].
