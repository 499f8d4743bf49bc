%% bench_erl: the Erlang half of ./dev bench (the C half is bench_proto.c).
%%
%% The driver (enode-bench) compiles and loads this module on each OTP node
%% through the cluster harness and calls it with h_eval:
%%
%%   start_receiver()                 register `bench`, the receiver
%%   send(Dest, Kind, N, Chunk, Window)
%%                                    N messages of Kind to Dest; returns
%%                                    {ok, Micros} once Dest confirmed it got
%%                                    all of them in order, else {error, Why}
%%   ping(Dest, N)                    round trips; {ok, P50us, P99us}
%%   connect_times(Node, N)           N fresh connections, each timed from
%%                                    net_kernel:connect_node/1's call to its
%%                                    return; {ok, [Micros]}
%%   rss_kb()                         this VM's resident memory
%%   check_receiver(Dest)             ok if Dest reports a lost, a reordered
%%                                    and a miscounted message
%%
%% Messages (see bench_proto.h): {hello, 42, [1,2,3]}; {Seq, Binary};
%% {bench_mark, From, K, Sent} -> {bench_ack, K};
%% {bench_end, From, Sent, Bytes} -> {bench_done, Result, Count, Bytes};
%% {bench_ping, From, Seq} -> {bench_pong, Seq}.
-module(bench_erl).

-export([start_receiver/0, send/5, ping/2, connect_times/2, rss_kb/0,
         check_receiver/1, send_one/2]).

%% ---- the receiver ---------------------------------------------------------

start_receiver() ->
    case whereis(bench) of
        undefined -> ok;
        Old -> unlink(Old), exit(Old, kill)
    end,
    Pid = spawn(fun() -> receiver(0, 0, none) end),
    register(bench, Pid),
    ok.

%% Count, Bytes and the first error since the last bench_end.
receiver(Count, Bytes, Err) ->
    receive
        {hello, 42, [1, 2, 3]} ->
            receiver(Count + 1, Bytes, Err);
        {Seq, Bin} when is_integer(Seq), is_binary(Bin) ->
            Err1 = case Seq of
                       Count -> Err;
                       _ -> first(Err, {out_of_order, Count, Seq})
                   end,
            receiver(Count + 1, Bytes + byte_size(Bin), Err1);
        {bench_mark, From, K, Sent} ->
            From ! {bench_ack, K},
            Err1 = case Sent of
                       Count -> Err;
                       _ -> first(Err, {at_mark, K, Sent, Count})
                   end,
            receiver(Count, Bytes, Err1);
        {bench_end, From, Sent, SentBytes} ->
            Result = case {Err, Count, Bytes} of
                         {none, Sent, SentBytes} -> ok;
                         {none, _, _} -> {missing, Sent, SentBytes, Count, Bytes};
                         _ -> Err
                     end,
            From ! {bench_done, Result, Count, Bytes},
            receiver(0, 0, none);
        {bench_ping, From, Seq} ->
            From ! {bench_pong, Seq},
            receiver(Count, Bytes, Err);
        _Other ->
            receiver(Count, Bytes, first(Err, {unexpected, Count}))
    end.

first(none, New) -> New;
first(Old, _) -> Old.

%% ---- the sender -----------------------------------------------------------

send(Dest, Kind, N, Chunk, Window) ->
    flush(),
    Bin = payload(Kind),
    T0 = erlang:monotonic_time(microsecond),
    send_loop(Dest, Bin, 0, N, Chunk, Window, 0),
    Bytes = case Bin of none -> 0; _ -> N * byte_size(Bin) end,
    Dest ! {bench_end, self(), N, Bytes},
    receive
        {bench_done, ok, N, Bytes} ->
            {ok, erlang:monotonic_time(microsecond) - T0};
        {bench_done, Result, Count, Got} ->
            {error, {Result, Count, Got}}
    after 120000 ->
        {error, no_bench_done}
    end.

payload(small) -> none;
payload(bin_1k) -> binary:copy(<<7>>, 1024);
payload(bin_64k) -> binary:copy(<<7>>, 65536);
payload(bin_1m) -> binary:copy(<<7>>, 1048576).

%% Acked: the last mark the receiver acknowledged.
send_loop(_Dest, _Bin, N, N, _Chunk, _Window, _Acked) ->
    ok;
send_loop(Dest, Bin, I, N, Chunk, Window, Acked) ->
    case Bin of
        none -> Dest ! {hello, 42, [1, 2, 3]};
        _ -> Dest ! {I, Bin}
    end,
    Sent = I + 1,
    case Sent rem Chunk of
        0 ->
            K = Sent div Chunk,
            Dest ! {bench_mark, self(), K, Sent},
            send_loop(Dest, Bin, Sent, N, Chunk, Window, wait_acks(K - Window, Acked));
        _ ->
            send_loop(Dest, Bin, Sent, N, Chunk, Window, Acked)
    end.

wait_acks(Need, Acked) when Acked >= Need -> Acked;
wait_acks(Need, _Acked) ->
    receive
        {bench_ack, K} -> wait_acks(Need, K)
    after 120000 ->
        exit(no_bench_ack)
    end.

flush() ->
    receive _ -> flush() after 0 -> ok end.

%% ---- the receiver's own check ---------------------------------------------

%% A receiver that would not notice loss or disorder makes every figure
%% meaningless: feed it three broken runs and insist that it objects, then
%% one good run that it must accept.
check_receiver(Dest) ->
    flush(),
    B = <<1, 2, 3>>,
    Broken = [{"a lost message", [{0, B}, {2, B}], 2, 6},
              {"a reordered message", [{1, B}, {0, B}], 2, 6},
              {"a miscount", [{hello, 42, [1, 2, 3]}], 2, 0}],
    Bad = [What || {What, Msgs, N, Bytes} <- Broken, run(Dest, Msgs, N, Bytes) =:= ok],
    case {Bad, run(Dest, [{0, B}, {1, B}, {hello, 42, [1, 2, 3]}], 3, 6)} of
        {[], ok} -> ok;
        {[], Other} -> {error, {good_run_refused, Other}};
        {_, _} -> {error, {not_noticed, Bad}}
    end.

run(Dest, Msgs, N, Bytes) ->
    [Dest ! M || M <- Msgs],
    Dest ! {bench_end, self(), N, Bytes},
    receive
        {bench_done, Result, _, _} -> Result
    after 10000 ->
        no_bench_done
    end.

%% ---- round trips ------------------------------------------------------------

ping(Dest, N) ->
    flush(),
    _ = [one_ping(Dest, I) || I <- lists:seq(1, 200)], % warm up
    Sorted = lists:sort([one_ping(Dest, I) || I <- lists:seq(1, N)]),
    {ok, percentile(Sorted, 50), percentile(Sorted, 99)}.

one_ping(Dest, Seq) ->
    T0 = erlang:monotonic_time(nanosecond),
    Dest ! {bench_ping, self(), Seq},
    receive
        {bench_pong, Seq} -> (erlang:monotonic_time(nanosecond) - T0) / 1000
    after 10000 ->
        exit({no_pong, Seq})
    end.

percentile(Sorted, P) ->
    Len = length(Sorted),
    lists:nth(max(1, min(Len, (Len * P + 99) div 100)), Sorted).

%% ---- connection set-up -------------------------------------------------------

connect_times(Node, N) ->
    {ok, [connect_once(Node) || _ <- lists:seq(1, N)]}.

%% Each attempt starts from no connection, and the peer has had time to
%% see the previous one close.
connect_once(Node) ->
    disconnect(Node, 20),
    T0 = erlang:monotonic_time(microsecond),
    true = net_kernel:connect_node(Node),
    erlang:monotonic_time(microsecond) - T0.

%% Something may connect again behind our back (global, late messages):
%% start over until the connection stays down.
disconnect(Node, 0) ->
    exit({cannot_stay_disconnected, Node});
disconnect(Node, Tries) ->
    erlang:disconnect_node(Node),
    wait_gone(Node, 200),
    timer:sleep(20),
    case lists:member(Node, nodes([visible, hidden])) of
        false -> ok;
        true -> disconnect(Node, Tries - 1)
    end.

wait_gone(_Node, 0) -> ok;
wait_gone(Node, Tries) ->
    case lists:member(Node, nodes([visible, hidden])) of
        true -> timer:sleep(5), wait_gone(Node, Tries - 1);
        false -> ok
    end.

%% ---- memory -----------------------------------------------------------------

rss_kb() ->
    {ok, Status} = file:read_file("/proc/self/status"),
    [_, After] = binary:split(Status, <<"VmRSS:">>),
    [Kb | _] = string:lexemes(After, " \t\n"),
    binary_to_integer(Kb).

%% One binary of Size bytes to Dest as {0, Bin}, then bench_end: ok once
%% the receiver has counted it (the peak memory figure).
send_one(Dest, Size) ->
    flush(),
    Dest ! {0, binary:copy(<<7>>, Size)},
    Dest ! {bench_end, self(), 1, Size},
    receive
        {bench_done, ok, 1, Size} -> ok;
        {bench_done, Result, Count, Got} -> {error, {Result, Count, Got}}
    after 120000 ->
        {error, no_bench_done}
    end.
