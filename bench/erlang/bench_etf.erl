%% ETF codec benchmark, the Erlang side: `term_to_binary` / `binary_to_term` of everyday
%% large terms. `gen Dir` writes each term's bytes (term_to_binary(T, [{minor_version, 2}]))
%% to Dir/<name>.etf, for bench/etf.ts to decode the very same bytes; `main Dir` times the
%% BIFs on them. Prints one line per term and direction:
%%   RESULT etf_<name>_<decode|encode> bytes=B n=N us=T ops_per_s=X
%% Each is a loop run for at least ~1 s (after a warm-up of ~0.2 s).
-module(bench_etf).
-export([main/1, gen/1]).

terms() ->
    [{map_4k_tuple_keys, maps:from_list([{{user, N}, N} || N <- lists:seq(1, 4000)])},
     {map_20k_int_keys, maps:from_list([{N, N * 2} || N <- lists:seq(1, 20000)])},
     {list_50k_records,
      [{user, N, <<"user-", (integer_to_binary(N))/binary>>, N rem 100, N * 0.5, N rem 2 =:= 0}
       || N <- lists:seq(1, 50000)]},
     {binary_1mib, binary:copy(<<"0123456789abcdef">>, 65536)}].

gen([Dir]) ->
    [ok = file:write_file(filename:join(Dir, atom_to_list(Name) ++ ".etf"),
                          term_to_binary(T, [{minor_version, 2}]))
     || {Name, T} <- terms()],
    halt(0).

now_us() -> erlang:monotonic_time(microsecond).

%% runs F in batches until Min microseconds have passed; returns {Iterations, Microseconds}
timed(F, Min) ->
    T0 = now_us(),
    timed(F, Min, T0, 0, 1).
timed(F, Min, T0, N, Batch) ->
    loop(F, Batch),
    T = now_us() - T0,
    case T >= Min of
        true -> {N + Batch, T};
        false -> timed(F, Min, T0, N + Batch, min(Batch * 2, 1024))
    end.

loop(_, 0) -> ok;
loop(F, K) -> F(), loop(F, K - 1).

main([Dir]) ->
    [begin
         {ok, B} = file:read_file(filename:join(Dir, atom_to_list(Name) ++ ".etf")),
         T = binary_to_term(B),
         Dec = fun() -> binary_to_term(B) end,
         Enc = fun() -> term_to_binary(T, [{minor_version, 2}]) end,
         report(Name, decode, byte_size(B), Dec),
         report(Name, encode, byte_size(B), Enc)
     end || {Name, _} <- terms()],
    halt(0).

report(Name, Dir, Bytes, F) ->
    _ = timed(F, 200000),
    erlang:garbage_collect(),
    {N, Us} = timed(F, 1000000),
    io:format("RESULT etf_~s_~s bytes=~p n=~p us=~p ops_per_s=~.3f~n",
              [Name, Dir, Bytes, N, Us, N * 1.0e6 / Us]).
