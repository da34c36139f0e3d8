//! The CEL glue: compiling policy expressions with cel-rust, binding the admission
//! variables, and converting between JSON and CEL values.
//!
//! kube-apiserver evaluates policies with cel-go plus Kubernetes' libraries. The sandbox
//! uses cel-rust's standard library and its `strings`, `lists`, `math` and base64
//! extensions, and adds the few Kubernetes functions policies commonly need: `find` and
//! `findAll` (the Kubernetes regex library) and `jsonpatch.escapeKey`. Expressions are
//! not type-checked against schemas (cel-rust has no checker): a misspelt field is an
//! evaluation error ("no such key") rather than a compile error.
//!
//! Mutating policies construct typed objects, `Object{spec: Object.spec{...}}` and
//! `JSONPatch{op: ..., path: ...}`. cel-rust only builds struct literals of registered
//! types, so every struct name an expression uses (found by walking its syntax tree)
//! is registered, for that expression, as a type that builds a plain map of its fields:
//! the mutation code reads apply configurations and patches as JSON anyway, and field
//! names are checked when the result is applied and validated (there is no schema to
//! check them against here).
//!
//! `variables` are evaluated once, in order, each seeing the ones before it; a variable
//! whose evaluation failed only fails the expressions that read it, as kube-apiserver's
//! lazy variables do.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, Mutex, OnceLock},
};

pub use cel::Value as CelValue;
use cel::{
    Context, Env, ExecutionError, IdedExpr, Program, StructType,
    common::{
        ast::{EntryExpr, Expr},
        traits::Indexer,
        types::{CelList, CelString, DYN_TYPE, STRING_TYPE, Type},
        value::{CowVal, Val},
    },
    objects::{Key, Map as CelMap},
};
use serde_json::Value;

/// A compiled expression and the environment it runs in.
pub struct Compiled {
    program: Program,
    env: Arc<Env>,
    source: String,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("source", &self.source)
            .finish()
    }
}

impl Compiled {
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// How many compiled expressions are kept (policies are few; this bounds a client that
/// writes many distinct ones).
const CACHE_LIMIT: usize = 1024;

type CompileResult = Result<Arc<Compiled>, String>;

fn cache() -> &'static Mutex<HashMap<String, CompileResult>> {
    static CACHE: OnceLock<Mutex<HashMap<String, CompileResult>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The environment of expressions that construct no objects (shared).
fn base_env() -> Arc<Env> {
    static BASE: OnceLock<Arc<Env>> = OnceLock::new();
    Arc::clone(BASE.get_or_init(|| Arc::new(new_env(&BTreeSet::new()))))
}

/// A struct literal type of a mutating policy: builds a map of its fields.
struct MapStruct {
    ty: Type,
}

impl StructType for MapStruct {
    fn get_type(&self) -> &Type {
        &self.ty
    }

    fn new_value<'b, 'v>(
        &self,
        fields: BTreeMap<String, CowVal<'b, 'v>>,
    ) -> Result<Box<dyn Val + 'v>, ExecutionError> {
        let mut map = HashMap::with_capacity(fields.len());
        for (name, value) in fields {
            let value = CelValue::try_from(value.as_ref())?;
            map.insert(Key::String(Arc::new(name)), value);
        }
        let value = CelValue::Map(CelMap { map: Arc::new(map) });
        Box::<dyn Val>::try_from(value).map(|b| b as Box<dyn Val + 'v>)
    }
}

fn arg_str<'a>(args: &'a [CowVal<'_, '_>], i: usize) -> Result<&'a str, ExecutionError> {
    args.get(i)
        .and_then(|a| a.downcast_ref::<CelString>())
        .map(CelString::inner)
        .ok_or_else(ExecutionError::missing_argument_or_target)
}

fn regex_of(function: &str, pattern: &str) -> Result<regex::Regex, ExecutionError> {
    regex::Regex::new(pattern).map_err(|e| ExecutionError::function_error(function, e))
}

/// `s.find(re)`: the first match, or "".
fn find<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (s, re) = (arg_str(&args, 0)?, regex_of("find", arg_str(&args, 1)?)?);
    let found = re
        .find(s)
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    Ok(CowVal::owned(CelString::from(found)))
}

/// `s.findAll(re)` / `s.findAll(re, n)`: every match (at most `n` when `n >= 0`).
fn find_all<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (s, re) = (arg_str(&args, 0)?, regex_of("findAll", arg_str(&args, 1)?)?);
    let limit = match args.get(2) {
        Some(n) => match CelValue::try_from(n.as_ref())? {
            CelValue::Int(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            CelValue::Int(_) => usize::MAX,
            _ => {
                return Err(ExecutionError::function_error(
                    "findAll",
                    "n must be an int",
                ));
            }
        },
        None => usize::MAX,
    };
    let items: Vec<Box<dyn Val>> = re
        .find_iter(s)
        .take(limit)
        .map(|m| Box::new(CelString::from(m.as_str().to_string())) as Box<dyn Val>)
        .collect();
    Ok(CowVal::owned(CelList::from(items)))
}

/// `jsonpatch.escapeKey(k)`: `~` → `~0`, `/` → `~1` (RFC 6901), for JSONPatch paths.
fn escape_key<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let key = arg_str(&args, 0)?.replace('~', "~0").replace('/', "~1");
    Ok(CowVal::owned(CelString::from(key)))
}

fn new_env(struct_names: &BTreeSet<String>) -> Env {
    let mut env = Env::stdlib();
    // Declaration errors here are programming errors (a name clash between the
    // extensions), not something a policy can cause: report and carry on without.
    let results = [
        env.add_extension(cel::extensions::strings),
        env.add_extension(cel::extensions::lists),
        env.add_extension(cel::extensions::math),
        env.add_extension(cel::extensions::encoders),
        env.add_member_overload(
            "find",
            "string_find_string",
            STRING_TYPE,
            vec![STRING_TYPE],
            find,
        ),
        env.add_member_overload(
            "findAll",
            "string_find_all_string",
            STRING_TYPE,
            vec![STRING_TYPE],
            find_all,
        ),
        env.add_member_overload(
            "findAll",
            "string_find_all_string_int",
            STRING_TYPE,
            vec![STRING_TYPE, cel::common::types::INT_TYPE],
            find_all,
        ),
        env.add_overload(
            "jsonpatch.escapeKey",
            "jsonpatch_escape_key_string",
            vec![STRING_TYPE],
            escape_key,
        ),
    ];
    for r in results {
        if let Err(e) = r {
            tracing::error!("sandbox CEL environment: {e}");
        }
    }
    for name in struct_names {
        let decl = MapStruct {
            ty: Type::new_struct(name.clone()),
        };
        if let Err(e) = env.add_type(decl) {
            tracing::warn!("sandbox CEL: cannot declare struct type {name}: {e}");
        }
    }
    env
}

/// The struct type names an expression constructs (`Object.spec`, `JSONPatch`).
fn struct_names(e: &IdedExpr, out: &mut BTreeSet<String>) {
    match &e.expr {
        Expr::Call(call) => {
            if let Some(t) = &call.target {
                struct_names(t, out);
            }
            call.args.iter().for_each(|a| struct_names(a, out));
        }
        Expr::Comprehension(c) => {
            for part in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                struct_names(part, out);
            }
        }
        Expr::List(list) => list.elements.iter().for_each(|x| struct_names(x, out)),
        Expr::Map(map) => map.entries.iter().for_each(|entry| match &entry.expr {
            EntryExpr::MapEntry(m) => {
                struct_names(&m.key, out);
                struct_names(&m.value, out);
            }
            EntryExpr::StructField(f) => struct_names(&f.value, out),
        }),
        Expr::Select(select) => struct_names(&select.operand, out),
        Expr::Struct(s) => {
            out.insert(s.type_name.trim_start_matches('.').to_string());
            s.entries.iter().for_each(|entry| match &entry.expr {
                EntryExpr::StructField(f) => struct_names(&f.value, out),
                EntryExpr::MapEntry(m) => {
                    struct_names(&m.key, out);
                    struct_names(&m.value, out);
                }
            });
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// Compiles `source` (cached). The error is kube-apiserver's `compilation failed: ...`.
pub fn compile(source: &str) -> CompileResult {
    let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = cache.get(source) {
        return found.clone();
    }
    let result = compile_uncached(source);
    if cache.len() >= CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(source.to_string(), result.clone());
    result
}

fn compile_uncached(source: &str) -> CompileResult {
    if source.trim().is_empty() {
        return Err("compilation failed: the expression is empty".into());
    }
    let base = base_env();
    let program = base
        .compile(source)
        .map_err(|e| format!("compilation failed: {e}"))?;
    let mut names = BTreeSet::new();
    struct_names(program.expression(), &mut names);
    let env = if names.is_empty() {
        base
    } else {
        Arc::new(new_env(&names))
    };
    Ok(Arc::new(Compiled {
        program,
        env,
        source: source.to_string(),
    }))
}

/// A JSON value as CEL sees it: integers are `int`, other numbers `double`.
pub fn to_cel(v: &Value) -> CelValue {
    match v {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => CelValue::Int(i),
            (None, Some(u)) => CelValue::UInt(u),
            _ => CelValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => CelValue::String(Arc::new(s.clone())),
        Value::Array(items) => CelValue::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => CelValue::Map(CelMap {
            map: Arc::new(
                map.iter()
                    .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
                    .collect(),
            ),
        }),
    }
}

/// A CEL value as JSON (maps with string, int or bool keys; timestamps as RFC 3339).
pub fn to_json(v: &CelValue) -> Result<Value, String> {
    Ok(match v {
        CelValue::Null => Value::Null,
        CelValue::Bool(b) => Value::Bool(*b),
        CelValue::Int(i) => Value::from(*i),
        CelValue::UInt(u) => Value::from(*u),
        CelValue::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| format!("{f} is not a JSON number"))?,
        CelValue::String(s) => Value::String(s.to_string()),
        CelValue::Bytes(b) => {
            use base64::Engine;
            Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_slice()))
        }
        CelValue::List(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        CelValue::Map(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map.map.iter() {
                out.insert(k.to_string(), to_json(v)?);
            }
            Value::Object(out)
        }
        CelValue::Timestamp(t) => {
            let s = t.to_rfc3339();
            Value::String(match s.strip_suffix("+00:00") {
                Some(utc) => format!("{utc}Z"),
                None => s,
            })
        }
        CelValue::Duration(d) => Value::String(format!("{}s", d.num_seconds())),
        CelValue::Struct(s) => {
            let mut out = serde_json::Map::new();
            for (name, field) in s.field_values() {
                let value = CelValue::try_from(&*field).map_err(|e| e.to_string())?;
                out.insert(name, to_json(&value)?);
            }
            Value::Object(out)
        }
        other => return Err(format!("a {} cannot be written as JSON", other.type_of())),
    })
}

/// The result of one `variables` entry.
type VariableResult = Result<CelValue, ExecutionError>;

/// `variables`: read by name; a failed variable fails the expression that reads it.
#[derive(Debug, Clone, Default)]
pub struct Variables(Arc<Vec<(String, VariableResult)>>);

impl Val for Variables {
    fn get_type(&self) -> &Type {
        &DYN_TYPE
    }

    fn cel_type() -> &'static Type {
        &DYN_TYPE
    }

    fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
    where
        Self: 'v,
    {
        Some(self)
    }

    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(self.clone())
    }
}

impl Indexer for Variables {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let name = idx
            .downcast_ref::<CelString>()
            .map(CelString::inner)
            .ok_or_else(|| ExecutionError::no_such_key("(a variable name must be a string)"))?;
        match self.0.iter().rev().find(|(n, _)| n == name) {
            Some((_, Ok(value))) => {
                let boxed: Box<dyn Val> = Box::<dyn Val>::try_from(value.clone())?;
                Ok(CowVal::Owned(boxed))
            }
            Some((_, Err(e))) => Err(e.clone()),
            None => Err(ExecutionError::no_such_key(name)),
        }
    }

    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

/// What an expression can refer to: `object`, `oldObject`, `request`, `params`,
/// `namespaceObject` and `variables` (no `authorizer`).
#[derive(Debug, Clone)]
pub struct Activation {
    vars: Vec<(&'static str, CelValue)>,
    variables: Variables,
}

impl Activation {
    pub fn new(
        object: Option<&Value>,
        old_object: Option<&Value>,
        request: &Value,
        params: &Value,
        namespace_object: Option<&Value>,
    ) -> Activation {
        let or_null = |v: Option<&Value>| v.map(to_cel).unwrap_or(CelValue::Null);
        Activation {
            vars: vec![
                ("object", or_null(object)),
                ("oldObject", or_null(old_object)),
                ("request", to_cel(request)),
                ("params", to_cel(params)),
                ("namespaceObject", or_null(namespace_object)),
            ],
            variables: Variables::default(),
        }
    }

    /// Evaluates a policy's `variables` (a list of `{name, expression}`) in order.
    pub fn with_variables(mut self, variables: Option<&Value>) -> Activation {
        let Some(list) = variables.and_then(Value::as_array) else {
            return self;
        };
        for var in list {
            let name = var.get("name").and_then(Value::as_str).unwrap_or("");
            let expression = var.get("expression").and_then(Value::as_str).unwrap_or("");
            let result = match compile(expression) {
                Ok(compiled) => self.eval(&compiled),
                Err(e) => Err(ExecutionError::function_error(
                    &format!("variables.{name}"),
                    e,
                )),
            };
            let mut entries = (*self.variables.0).clone();
            entries.push((name.to_string(), result));
            self.variables = Variables(Arc::new(entries));
        }
        self
    }

    /// Evaluates an expression.
    pub fn eval(&self, compiled: &Compiled) -> Result<CelValue, ExecutionError> {
        let mut ctx = Context::with_env(Arc::clone(&compiled.env));
        for (name, value) in &self.vars {
            ctx.add_variable_from_value(*name, value.clone());
        }
        ctx.add_variable_as_val("variables", Box::new(self.variables.clone()));
        compiled.program.execute(&ctx)
    }
}

/// An evaluation error as kube-apiserver words it: `expression '<source>' resulted in
/// error: <error>`.
pub fn describe_error(source: &str, error: &ExecutionError) -> String {
    let detail = match error {
        ExecutionError::NoSuchKey(key) => format!("no such key: {key}"),
        other => other.to_string(),
    };
    format!("expression '{source}' resulted in error: {detail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(expr: &str, object: Value) -> Result<CelValue, String> {
        let request = json!({"operation": "CREATE", "userInfo": {"username": "alice"},
                             "namespace": "demo"});
        let act = Activation::new(Some(&object), None, &request, &Value::Null, None);
        let compiled = compile(expr)?;
        act.eval(&compiled).map_err(|e| describe_error(expr, &e))
    }

    #[test]
    fn kubernetes_style_expressions_evaluate_over_json_objects() {
        let job = json!({"metadata": {"name": "r1", "labels": {"app": "reviews"}},
                         "spec": {"creator": "alice", "replicas": 3, "image": "docker.io/x:1",
                                  "strategy": {"rules": [{"on": "header"}]}}});
        let cases = [
            (
                "has(object.spec.creator) && object.spec.creator == request.userInfo.username",
                true,
            ),
            (
                "object.spec.replicas >= 1 && object.spec.replicas <= 20",
                true,
            ),
            (
                "object.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
                true,
            ),
            ("object.spec.image.startsWith('docker.io/')", true),
            (
                "['docker.io/', 'ghcr.io/'].exists(p, object.spec.image.startsWith(p))",
                true,
            ),
            ("size(object.spec.strategy.rules) <= 16", true),
            ("!has(object.spec.takenOverBy)", true),
            ("object.?spec.?takenOverBy.orValue('none') == 'none'", true),
            ("'a,b'.split(',').size() == 2", true),
            ("'v1.2.3'.find('[0-9]+') == '1'", true),
            ("'a1b22'.findAll('[0-9]+') == ['1', '22']", true),
            ("jsonpatch.escapeKey('a/b~c') == 'a~1b~0c'", true),
            (
                "request.namespace in ['kube-system', 'istio-system']",
                false,
            ),
        ];
        for (expr, want) in cases {
            assert_eq!(run(expr, job.clone()), Ok(CelValue::Bool(want)), "{expr}");
        }
    }

    #[test]
    fn errors_name_the_expression_and_what_went_wrong() {
        let err = run("object.spec.missing == 'x'", json!({"spec": {}})).unwrap_err();
        assert_eq!(
            err,
            "expression 'object.spec.missing == 'x'' resulted in error: no such key: missing"
        );
        let err = compile("object.spec.(").unwrap_err();
        assert!(
            err.starts_with("compilation failed: ERROR: <input>:1:"),
            "{err}"
        );
    }

    #[test]
    fn object_literals_build_maps_that_convert_to_json() {
        let out = run(
            "Object{spec: Object.spec{creator: request.userInfo.username, replicas: 2}}",
            json!({}),
        )
        .expect("evaluates");
        assert_eq!(
            to_json(&out).unwrap(),
            json!({"spec": {"creator": "alice", "replicas": 2}})
        );
        let out = run(
            "[JSONPatch{op: 'add', path: '/metadata/labels/' + jsonpatch.escapeKey('a/b'), value: 'x'}]",
            json!({}),
        )
        .expect("evaluates");
        assert_eq!(
            to_json(&out).unwrap(),
            json!([{"op": "add", "path": "/metadata/labels/a~1b", "value": "x"}])
        );
    }

    #[test]
    fn json_round_trips_through_cel() {
        let v = json!({"a": [1, 2.5, "s", true, null, {"b": -3}], "big": u64::MAX});
        assert_eq!(to_json(&to_cel(&v)).unwrap(), v);
    }

    #[test]
    fn variables_see_earlier_ones_and_fail_only_where_read() {
        let request = json!({"userInfo": {"username": "alice"}});
        let act = Activation::new(
            Some(&json!({"spec": {"n": 2}})),
            None,
            &request,
            &Value::Null,
            None,
        )
        .with_variables(Some(&json!([
            {"name": "n", "expression": "object.spec.n"},
            {"name": "twice", "expression": "variables.n * 2"},
            {"name": "broken", "expression": "object.spec.nothing"},
        ])));
        let ok = compile("variables.twice == 4").unwrap();
        assert_eq!(act.eval(&ok), Ok(CelValue::Bool(true)));
        let bad = compile("variables.broken == 1").unwrap();
        let err = act.eval(&bad).unwrap_err();
        assert_eq!(
            describe_error("variables.broken == 1", &err),
            "expression 'variables.broken == 1' resulted in error: no such key: nothing"
        );
    }
}
