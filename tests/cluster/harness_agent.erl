%% harness_agent: the Erlang side of the enode cluster test harness.
%%
%% The C harness (harness.c) starts each OTP node with a socket on fd 0
%% (requests) and the same socket on fd 3 (replies); the node's stdout and
%% stderr go to a log file. Keeping replies off stdout means log output,
%% warnings and crash reports can never be mistaken for (or split) a reply.
%%
%% Protocol, one line each way:
%%   request:  <Seq> <Erlang expressions>\n
%%   reply:    <Seq> ok <Result printed with ~w>\n
%%             <Seq> err <{Class,Reason}, printed with ~tp on one line>\n
%% Seq lets the harness drop late replies to requests it gave up on.
%%
%% Each request is evaluated with fresh bindings in a fresh process, so a
%% slow or crashing expression never blocks or kills the agent. When the
%% harness goes away (EOF on fd 0) the node halts at once: a node must never
%% outlive the test that started it.
%%
%% The node loads this module by compiling the source at start-up (no erlc,
%% no .beam files to keep in step with the OTP release under test).
-module(harness_agent).

-export([start/0, eval_line/1, dist_tls_info/1, dist_tls_ecc/1]).

-define(MAX_LINE, 1048576).

%% Called from -eval; returns at once so later -eval/-s arguments still run.
start() ->
    Pid = spawn(fun init/0),
    register(?MODULE, Pid),
    ok.

init() ->
    Port = open_port({fd, 0, 3}, [binary, eof, {line, ?MAX_LINE}]),
    loop(Port, <<>>).

loop(Port, Partial) ->
    receive
        {Port, {data, {noeol, Chunk}}} ->
            loop(Port, <<Partial/binary, Chunk/binary>>);
        {Port, {data, {eol, Chunk}}} ->
            handle_request(<<Partial/binary, Chunk/binary>>),
            loop(Port, <<>>);
        {Port, eof} ->
            %% The harness is gone (exited, crashed or closed our socket).
            erlang:halt(0, [{flush, false}]);
        {reply, Line} ->
            %% Chars may exceed 255 (atoms, ~tp); the harness reads UTF-8.
            port_command(Port, [unicode:characters_to_binary(Line), $\n]),
            loop(Port, Partial);
        _Other ->
            loop(Port, Partial)
    end.

%% A watcher per request runs the expression in a monitored worker, so
%% even a worker that is killed (exit(self(), kill)) gets an answer.
handle_request(Request) ->
    Agent = self(),
    {Seq, Expr} = split_seq(Request),
    spawn(fun() -> Agent ! {reply, [Seq, $\s | watch_eval(Expr)]} end).

watch_eval(Expr) ->
    {_, Ref} = spawn_monitor(fun() -> exit({harness_reply, eval_line(Expr)}) end),
    receive
        {'DOWN', Ref, process, _, {harness_reply, Line}} -> Line;
        {'DOWN', Ref, process, _, Reason} ->
            ["err ", one_line(io_lib:format("~tp", [{exit, Reason}]))]
    end.

split_seq(Request) ->
    case binary:split(Request, <<" ">>) of
        [Seq, Expr] -> {Seq, unicode:characters_to_list(Expr)};
        [Seq] -> {Seq, ""}
    end.

%% Evaluates a string of Erlang expressions; returns "ok ..." or "err ...".
eval_line(Expr) ->
    try eval_string(Expr) of
        Value -> ["ok ", io_lib:format("~w", [Value])]
    catch
        Class:Reason -> ["err ", one_line(io_lib:format("~tp", [{Class, Reason}]))]
    end.

eval_string(String) ->
    Tokens = ensure_dot(scan(String)),
    case erl_parse:parse_exprs(Tokens) of
        {ok, Exprs} ->
            {value, Value, _} = erl_eval:exprs(Exprs, erl_eval:new_bindings()),
            Value;
        {error, {_Loc, Mod, Desc}} ->
            error({parse_error, lists:flatten(Mod:format_error(Desc))})
    end.

scan(String) ->
    case erl_scan:string(String) of
        {ok, Tokens, _End} -> Tokens;
        {error, {_Loc, Mod, Desc}, _} ->
            error({scan_error, lists:flatten(Mod:format_error(Desc))})
    end.

%% The harness sends one line without insisting on the final '.'.
ensure_dot([]) -> error({parse_error, "empty expression"});
ensure_dot(Tokens) ->
    case lists:last(Tokens) of
        {dot, _} -> Tokens;
        Last -> Tokens ++ [{dot, element(2, Last)}]
    end.

%% ~tp may break long terms over several lines; the protocol needs one.
one_line(Chars) ->
    Flat = unicode:characters_to_list(Chars),
    re:replace(Flat, "\\n\\s*", " ", [global, unicode, {return, list}]).

%% {Protocol, CipherSuite} of the TLS distribution connection to Node, e.g.
%% {'tlsv1.2','TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'}.
%%
%% There is no public API for this. On OTP 25 the dist controller of an
%% inet_tls_dist connection is the tls_sender process; its sibling under
%% the same tls_dyn_connection_sup is the receiver (the ssl connection
%% state machine), and an #sslsocket{pid = [Receiver, Sender]} built from
%% the two is enough for ssl:connection_information/2. Where that internal
%% shape differs (other releases, plain TCP), return {unknown, Why} instead.
dist_tls_info(Node) ->
    try
        Ctrl = dist_ctrl(Node),
        Receiver = tls_receiver(Ctrl),
        {ok, Info} = tls_connection_info(Receiver, Ctrl),
        {protocol, Proto} = lists:keyfind(protocol, 1, Info),
        {selected_cipher_suite, Suite} = lists:keyfind(selected_cipher_suite, 1, Info),
        {Proto, list_to_atom(ssl:suite_to_str(Suite))}
    catch
        throw:Why -> {unknown, Why};
        Class:Reason -> {unknown, {Class, Reason}}
    end.

%% The ECDHE curve of the TLS connection to Node, as ssl names it
%% (secp384r1), or {unknown, Why}.
dist_tls_ecc(Node) ->
    try
        Ctrl = dist_ctrl(Node),
        {ok, Info} = tls_connection_info(tls_receiver(Ctrl), Ctrl),
        case lists:keyfind(ecc, 1, Info) of
            {ecc, {named_curve, Curve}} -> Curve;
            false -> {unknown, no_ecc}
        end
    catch
        throw:Why -> {unknown, Why};
        Class:Reason -> {unknown, {Class, Reason}}
    end.

dist_ctrl(Node) ->
    case lists:keyfind(Node, 1, erlang:system_info(dist_ctrl)) of
        {Node, Ctrl} when is_pid(Ctrl) -> Ctrl;
        {Node, Port} when is_port(Port) -> throw({not_tls, Port});
        false -> throw(not_connected)
    end.

%% The TLS connection process beside the sender (Ctrl) under their
%% supervisor: its child id is `receiver` on OTP 25 and differs later, so
%% take the child that is not the sender.
tls_receiver(Ctrl) ->
    {dictionary, Dict} = process_info(Ctrl, dictionary),
    case proplists:get_value('$ancestors', Dict) of
        [Sup | _] when is_pid(Sup) ->
            case [P || {_, P, _, _} <- supervisor:which_children(Sup),
                       is_pid(P), P =/= Ctrl] of
                [Receiver | _] -> Receiver;
                [] -> throw(no_receiver)
            end;
        _ ->
            throw(unknown_dist_controller)
    end.

%% ssl_gen_statem answers directly on OTP 25 to 29; the sslsocket record
%% that ssl:connection_information/2 wants changed shape in OTP 26.
tls_connection_info(Receiver, Ctrl) ->
    case catch ssl_gen_statem:connection_information(Receiver, false) of
        {ok, Info} -> {ok, Info};
        _ ->
            Socket = {sslsocket, nil, [Receiver, Ctrl]},
            ssl:connection_information(Socket, [protocol, selected_cipher_suite, ecc])
    end.
