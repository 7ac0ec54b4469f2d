%% gen_server benchmarks that bench_local.erl / bench_dist.erl do not have.
%%   erl +P 2000000 -noshell -run bench_gen_server main idle_mem N
%% prints one line:  RESULT gs_idle_mem key=value ...
-module(bench_gen_server).
-export([main/1]).
-export([init/1, handle_call/3, handle_cast/2]).

main([Case | Args]) ->
    Ns = [list_to_integer(A) || A <- Args],
    erlang:apply(fun run/2, [list_to_atom(Case), Ns]),
    halt(0).

now_us() -> erlang:monotonic_time(microsecond).

settle() ->
    case erlang:statistics(total_run_queue_lengths_all) of
        0 -> ok;
        _ -> erlang:yield(), settle()
    end.

init([]) -> {ok, 0}.
handle_call(ping, _From, S) -> {reply, pong, S}.
handle_cast(inc, S) -> {noreply, S + 1}.

%% N idle gen_servers (started with gen_server:start/3, no name, state 0, each having
%% answered one call): memory per server, as the delta of erlang:memory(processes)
%% minus our own heap (which holds the list of pids).
run(idle_mem, [N]) ->
    erlang:garbage_collect(),
    settle(),
    {memory, Own0} = erlang:process_info(self(), memory),
    M0 = erlang:memory(processes),
    T0 = now_us(),
    Pids = start_n(N, []),
    T1 = now_us(),
    settle(),
    M1 = erlang:memory(processes),
    {memory, Own1} = erlang:process_info(self(), memory),
    {memory, One} = erlang:process_info(hd(Pids), memory),
    io:format("RESULT gs_idle_mem n=~p start_us=~p us_per_start=~.3f mem_delta_bytes=~p "
              "bytes_per_server=~.1f proc_mem_of_one=~p~n",
              [N, T1 - T0, (T1 - T0) / N, M1 - M0,
               (M1 - M0 - (Own1 - Own0)) / N, One]),
    [gen_server:stop(P) || P <- lists:sublist(Pids, 10)],
    ok.

start_n(0, Acc) -> Acc;
start_n(N, Acc) ->
    {ok, P} = gen_server:start(?MODULE, [], []),
    pong = gen_server:call(P, ping),
    start_n(N - 1, [P | Acc]).
