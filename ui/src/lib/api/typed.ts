// Calls and events typed by the backend's command table (the `Commands` and `Events` maps
// generated from crates/app/src/commands.rs): the command's name picks its argument and answer
// types, so a misspelt command, a missing, extra or mistyped argument, or a wrong expectation of
// the answer is a compile error rather than an `invalid_input` at run time.

import type { Backend } from './backend';
import type { CommandAnswer, CommandArgs, CommandName, EventName, EventPayload } from './generated';

/** A command's arguments: they may be left out when every field is optional. */
export type CallArgs<C extends CommandName> = {} extends CommandArgs<C> ? [args?: CommandArgs<C>] : [args: CommandArgs<C>];

/** `backend.call(command, args)`, typed by the command table. */
export function callCommand<C extends CommandName>(backend: Backend, command: C, ...[args]: CallArgs<C>): Promise<CommandAnswer<C>> {
  return backend.call<CommandAnswer<C>>(command, args);
}

/** `backend.subscribe(event, handler)` with the event's payload type. */
export function onEvent<E extends EventName>(backend: Backend, event: E, handler: (payload: EventPayload<E>) => void): () => void {
  return backend.subscribe(event, (payload) => handler(payload as EventPayload<E>));
}
