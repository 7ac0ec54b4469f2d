%% Chapter 22, "Location Transparency": send_work/2 as the chapter has it, and the worker
%% it talks to (the TypeScript twins are in examples/src/sendWork.ts). The same code runs
%% against a local pid, a pid on another Erlang node and a pid on a TypeScript node.
-module(send_work).
-export([send_work/2, worker/0, start_worker/0]).

%% This function works with any Pid — local or remote
send_work(Pid, Work) ->
    Pid ! {work, self(), Work},
    receive
        {result, Result} -> Result
    after 5000 ->
        {error, timeout}
    end.

%% self -> the worker's pid; {square, N} -> N*N; {sleep, Ms} -> {slept, Ms}; else {unknown, Work}
worker() ->
    receive
        {work, From, Work} -> From ! {result, do(Work)}, worker()
    end.

do(self) -> self();
do({square, N}) when is_integer(N) -> N * N;
do({sleep, Ms}) when is_integer(Ms) -> timer:sleep(Ms), {slept, Ms};
do(Other) -> {unknown, Other}.

%% register(worker, spawn(fun worker/0))
start_worker() ->
    true = register(worker, spawn(fun worker/0)),
    whereis(worker).
