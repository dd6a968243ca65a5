/** A pino-shaped logger that records entries: `{level, msg, ...fields}`. */
export function recordingLogger() {
  const entries = [];
  const make = (bindings = {}) => {
    const at = (level) => (fields, msg) => {
      if (typeof fields === 'string') entries.push({ level, msg: fields, ...bindings });
      else entries.push({ level, msg, ...bindings, ...fields });
    };
    return {
      entries, trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'),
      child: (more) => make({ ...bindings, ...more }),
      level: 'trace',
    };
  };
  return make();
}
