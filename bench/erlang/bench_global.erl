%% global:register_name + global:whereis_name with 3 nodes (issue 12), the Erlang side of
%% bench/global.ts:
%%   erl -sname P -setcookie C -noshell -pa DIR -run bench_global peer
%%     an idle node that prints "peer ready" (global runs on it, as on every node);
%%   erl -sname M -setcookie C -noshell -pa DIR -run bench_global main Peer1 Peer2 N
%%     connects to both peers, global:sync(), then registers N names ({bench, I} for N
%%     fresh pids: each register_name locks and writes on all 3 nodes), then looks each up
%%     100 times (a local lookup), twice (the first pass, then a second), prints
%%     RESULT global_reg ... and halts.
-module(bench_global).
-export([peer/0, main/1]).

peer() -> io:format("peer ready~n").

main([P1, P2, NS]) ->
    N = list_to_integer(NS),
    Peers = [list_to_atom(P1), list_to_atom(P2)],
    [pong = net_adm:ping(P) || P <- Peers],
    wait_mesh(Peers, 500),
    ok = global:sync(),
    Pids = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, N)],
    Named = lists:zip(lists:seq(1, N), Pids),
    T0 = erlang:monotonic_time(microsecond),
    lists:foreach(fun({I, P}) -> yes = global:register_name({bench, I}, P) end, Named),
    T1 = erlang:monotonic_time(microsecond),
    Rounds = 100,
    %% two passes of the same lookups, as bench/global.ts times them
    lookups(Named, Rounds),
    T2 = erlang:monotonic_time(microsecond),
    lookups(Named, Rounds),
    T3 = erlang:monotonic_time(microsecond),
    io:format("RESULT global_reg register_per_s=~.1f whereis_first_per_s=~.1f whereis_per_s=~.1f names=~p~n",
              [N * 1.0e6 / max(1, T1 - T0), N * Rounds * 1.0e6 / max(1, T2 - T1),
               N * Rounds * 1.0e6 / max(1, T3 - T2), N]),
    halt().

lookups(_, 0) -> ok;
lookups(Named, R) ->
    lists:foreach(fun({I, P}) -> P = global:whereis_name({bench, I}) end, Named),
    lookups(Named, R - 1).

%% the peers meet through global (connect_all): wait until this node sees both
wait_mesh(Peers, 0) -> exit({no_mesh, Peers, nodes()});
wait_mesh(Peers, K) ->
    case Peers -- nodes() of
        [] -> ok;
        _ -> timer:sleep(10), wait_mesh(Peers, K - 1)
    end.
