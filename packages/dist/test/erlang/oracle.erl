%% Oracle for links, exits and monitors across nodes.
%%
%% `peer/0` starts the peer role on a node: a process registered as `peer` that spawns
%% target processes on request. `main/1` (on another node) runs every scenario against
%% the peer node and prints one line per scenario: the messages its observer process
%% received, normalised (the target pid becomes 'P', the peer node 'Peer', refs 'Ref')
%% and sorted. The TS test runs the same `main/1` against an erl peer and against a TS
%% node that mirrors `peer/0`, and compares the printed traces.
-module(oracle).
-export([peer/0, main/1, scenarios/0]).

peer() ->
    register(peer, spawn(fun peer_loop/0)),
    ok.

peer_loop() ->
    receive
        {spawn, From, Name} ->
            P = spawn(fun target/0),
            case Name of
                undefined -> ok;
                _ -> register(Name, P)
            end,
            From ! {spawned, P},
            peer_loop()
    end.

target() ->
    receive
        {exit, Reason} -> exit(Reason)
    end.

scenarios() -> [link_kill, link_normal, link_exit_reason, unlink_race, monitor_name, monitor_noproc, demonitor].

main([Node]) when is_atom(Node) -> main(Node);
main(Node) ->
    pong = net_adm:ping(Node),
    lists:foreach(fun(S) ->
                          Self = self(),
                          {Pid, MRef} = spawn_monitor(fun() -> Self ! {trace, S, run(S, Node)} end),
                          receive
                              {trace, S, Trace} ->
                                  io:format("trace ~w ~w~n", [S, Trace]);
                              {'DOWN', MRef, process, Pid, Why} ->
                                  io:format("trace ~w {crashed,~w}~n", [S, Why])
                          after 20000 ->
                                  io:format("trace ~w timeout~n", [S])
                          end,
                          erlang:demonitor(MRef, [flush])
                  end, scenarios()),
    io:format("done~n").

spawn_target(Node, Name) ->
    {peer, Node} ! {spawn, self(), Name},
    receive {spawned, P} -> P after 10000 -> exit(no_peer) end.

%% every scenario returns the normalised, sorted trace of what this process received
run(link_kill, Node) ->
    process_flag(trap_exit, true),
    P = spawn_target(Node, undefined),
    link(P),
    exit(P, kill),
    collect(P, Node, 1);
run(link_normal, Node) ->
    process_flag(trap_exit, true),
    P = spawn_target(Node, undefined),
    link(P),
    P ! {exit, normal},
    collect(P, Node, 1);
run(link_exit_reason, Node) ->
    process_flag(trap_exit, true),
    P = spawn_target(Node, undefined),
    link(P),
    P ! {exit, {shutdown, [1, <<"two">>, 3.0]}},
    collect(P, Node, 1);
run(unlink_race, Node) ->
    %% the target dies right after we unlink: unlink/1 guarantees that no exit signal
    %% from the link reaches us afterwards, so only the monitor's 'DOWN' arrives
    process_flag(trap_exit, true),
    P = spawn_target(Node, undefined),
    erlang:monitor(process, P),
    link(P),
    P ! {exit, boom},
    unlink(P),
    collect(P, Node, 1);
run(monitor_name, Node) ->
    P = spawn_target(Node, oracle_target),
    erlang:monitor(process, {oracle_target, Node}),
    {oracle_target, Node} ! {exit, bye},
    collect(P, Node, 1);
run(monitor_noproc, Node) ->
    erlang:monitor(process, {oracle_nobody, Node}),
    collect(none, Node, 1);
run(demonitor, Node) ->
    P = spawn_target(Node, undefined),
    Ref = erlang:monitor(process, P),
    true = erlang:demonitor(Ref),
    Ref2 = erlang:monitor(process, P),
    P ! {exit, late},
    receive {'DOWN', Ref2, _, _, _} = D -> [norm(D, P, Node)] after 10000 -> [timeout] end
        ++ collect(P, Node, 0).

%% wait for N messages, then for silence (300 ms)
collect(P, Node, N) -> lists:sort([norm(M, P, Node) || M <- collect(N)]).

collect(0) ->
    receive M -> [M | collect(0)] after 300 -> [] end;
collect(N) ->
    receive M -> [M | collect(N - 1)] after 10000 -> [timeout] end.

norm(P, P, _) when is_pid(P) -> 'P';
norm(Node, _, Node) -> 'Peer';
norm(R, _, _) when is_reference(R) -> 'Ref';
norm(X, _, _) when is_pid(X) -> other_pid;
norm(T, P, Node) when is_tuple(T) -> list_to_tuple([norm(E, P, Node) || E <- tuple_to_list(T)]);
norm(L, P, Node) when is_list(L) -> [norm(E, P, Node) || E <- L];
norm(X, _, _) -> X.
