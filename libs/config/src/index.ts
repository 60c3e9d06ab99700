/** @module @keylime/config: Upstream-compatible configuration: INI files with conf.d snippets and KEYLIME_* overrides for the Python roles, TOML agent.conf for the agent; typed per-role schemas. */
export {};
