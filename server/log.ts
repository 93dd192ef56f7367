/** A structured logger writing one JSON object a line; injected, never a module global. */
export type LogLevel = 'info' | 'warn' | 'error';
export interface Logger {
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
}

export function jsonLogger(write: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const at = (level: LogLevel) => (msg: string, fields?: object) => write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
  return { info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
