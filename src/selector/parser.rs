//! Recursive descent over the grammar of spec section 6.2, one function per rule:
//!
//! ```text
//! selector := [or-expr]                       (empty or blank: all())
//! or-expr  := and-expr ("||" and-expr)*
//! and-expr := op ("&&" op)*
//! op       := "!"* ( "(" or-expr ")" | "has(" label ")" | "all(" ")" | "global(" ")"
//!                  | label ("==" | "!=" | "contains" | "starts with" | "ends with") string
//!                  | label ("in" | "not in") "{" [string ("," string)* [","]] "}" )
//! ```
//!
//! Only parenthesised groups recurse, and their depth is capped at [`MAX_NESTING`] so that no
//! input can overflow the stack (here, or later when the tree is evaluated, printed or dropped).

use super::{
    MAX_NESTING,
    ast::Node,
    error::{ErrorKind, ParseError},
    lexer::{Cursor, LabelOp},
};

/// What may start an operand; the text of the error when something else is there.
const OPERAND: &str = "label, has(), all(), global(), '!' or '('";

/// Parses a whole selector.
pub(super) fn parse(src: &str) -> Result<Node, ParseError> {
    let mut parser = Parser {
        cur: Cursor::new(src),
        depth: 0,
    };
    parser.cur.skip_ws();
    if parser.cur.at_end() {
        return Ok(Node::All);
    }
    let root = parser.or_expr()?;
    // `or_expr` stops, spaces skipped, at the first thing that is not `&&` or `||`.
    if !parser.cur.at_end() {
        let mut err = parser.cur.expected("'&&', '||' or end of selector");
        if err.kind == ErrorKind::Expected {
            err.kind = ErrorKind::TrailingContent;
        }
        return Err(err);
    }
    Ok(root)
}

#[derive(Debug)]
struct Parser<'a> {
    cur: Cursor<'a>,
    /// How many `(` groups enclose the current position.
    depth: usize,
}

impl Parser<'_> {
    fn or_expr(&mut self) -> Result<Node, ParseError> {
        let first = self.and_expr()?;
        // Most selectors have no `||`: don't allocate for them.
        if !self.infix("||")? {
            return Ok(first);
        }
        let mut operands = vec![first, self.and_expr()?];
        while self.infix("||")? {
            operands.push(self.and_expr()?);
        }
        Ok(Node::Or(operands))
    }

    fn and_expr(&mut self) -> Result<Node, ParseError> {
        let first = self.operation()?;
        if !self.infix("&&")? {
            return Ok(first);
        }
        let mut operands = vec![first, self.operation()?];
        while self.infix("&&")? {
            operands.push(self.operation()?);
        }
        Ok(Node::And(operands))
    }

    /// Consumes `op` (`&&` or `||`) if it comes next. A lone `&` or `|` is an error, as in
    /// Calico's tokenizer, rather than trailing content.
    fn infix(&mut self, op: &'static str) -> Result<bool, ParseError> {
        self.cur.skip_ws();
        if self.cur.eat(op) {
            return Ok(true);
        }
        if self.cur.peek() == op.bytes().next() {
            return Err(self.cur.expected(format!("'{op}'")));
        }
        Ok(false)
    }

    /// An operand with its leading `!`s, which collapse: an even number cancels.
    fn operation(&mut self) -> Result<Node, ParseError> {
        let mut negated = false;
        loop {
            self.cur.skip_ws();
            // `!=` is an operator token even here, where it can only be an error.
            if self.cur.looking_at("!=") || !self.cur.eat("!") {
                break;
            }
            negated = !negated;
        }
        let operand = self.operand()?;
        Ok(if negated { operand.negate() } else { operand })
    }

    fn operand(&mut self) -> Result<Node, ParseError> {
        if self.cur.eat("(") {
            return self.group();
        }
        // `has(`, `all(` and `global(` are one token each: `has (a)` is the label `has`
        // followed by something that is not an operator.
        if self.cur.eat("has(") {
            self.cur.skip_ws();
            let label = self.cur.label()?;
            let label = label.ok_or_else(|| self.cur.expected("label name"))?;
            self.close("has(")?;
            return Ok(Node::Has(label.to_owned()));
        }
        if self.cur.eat("all(") {
            self.close("all(")?;
            return Ok(Node::All);
        }
        if self.cur.eat("global(") {
            self.close("global(")?;
            return Ok(Node::Global);
        }
        match self.cur.label()? {
            Some(label) => self.label_operation(label),
            None => Err(self.cur.expected(OPERAND)),
        }
    }

    /// The rest of `( or-expr )`, after the `(`.
    fn group(&mut self) -> Result<Node, ParseError> {
        if self.depth >= MAX_NESTING {
            let open = self.cur.pos().saturating_sub(1);
            let expected = format!("at most {MAX_NESTING} nested parentheses");
            return Err(ParseError::new(open, ErrorKind::TooDeep, expected));
        }
        self.depth += 1;
        let inner = self.or_expr()?;
        self.depth -= 1;
        if !self.cur.eat(")") {
            return Err(self.cur.expected("'&&', '||' or ')'"));
        }
        Ok(inner)
    }

    /// The `)` closing `has(`, `all(` or `global(`, after optional spaces.
    fn close(&mut self, function: &str) -> Result<(), ParseError> {
        self.cur.skip_ws();
        if self.cur.eat(")") {
            Ok(())
        } else {
            Err(self.cur.expected(format!("')' to close {function}")))
        }
    }

    /// The operator and right-hand side after `label`.
    fn label_operation(&mut self, label: &str) -> Result<Node, ParseError> {
        self.cur.skip_ws();
        let Some(op) = self.cur.label_op() else {
            // A lone `=` is its own error in Calico's tokenizer.
            let lone_eq = self.cur.peek() == Some(b'=');
            let what = if lone_eq {
                "'=='"
            } else {
                "operator after label"
            };
            return Err(self.cur.expected(what));
        };
        self.cur.skip_ws();
        let label = label.to_owned();
        match op {
            LabelOp::Compare(op) => {
                let value = self.cur.string()?;
                let value = value.ok_or_else(|| self.cur.expected("string"))?;
                Ok(Node::Compare {
                    label,
                    op,
                    value: value.to_owned(),
                })
            }
            LabelOp::InSet { negated } => Ok(Node::InSet {
                label,
                negated,
                values: self.set_literal()?,
            }),
        }
    }

    /// `{ "a", "b", }`: returns the values sorted and de-duplicated.
    fn set_literal(&mut self) -> Result<Vec<String>, ParseError> {
        if !self.cur.eat("{") {
            return Err(self.cur.expected("set literal"));
        }
        let mut values = Vec::new();
        loop {
            self.cur.skip_ws();
            if self.cur.eat("}") {
                break;
            }
            let value = self.cur.string()?;
            let value = value.ok_or_else(|| self.cur.expected("string or '}'"))?;
            values.push(value.to_owned());
            self.cur.skip_ws();
            if self.cur.eat("}") {
                break;
            }
            if !self.cur.eat(",") {
                return Err(self.cur.expected("',' or '}'"));
            }
        }
        values.sort_unstable();
        values.dedup();
        Ok(values)
    }
}
