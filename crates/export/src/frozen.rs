//! The compact text a version stores per image: its annotations as one JSON array, each
//! annotation `[class, geometry, flags, tags?, provenance]`, written by hand (no serde on the
//! hot path) so a million boxes freeze in well under a second.
//!
//! - geometry: a box is `[x0,y0,x1,y1]`; a polygon `{"p":[[x,y,x,y,…],…]}`; a mask
//!   `{"m":[height,width,"<COCO compressed counts>"]}`;
//! - flags: bit 0 occluded, bit 1 truncated, bit 2 crowd; then the tags array (possibly empty);
//! - provenance: `[source, run|null, score|null, author, review_state, reviewer|null]`.
//!
//! The first three elements are an annotation's *content*; their text is what the version hash
//! covers and what the canonical order sorts by.

use std::fmt::Write as _;

use lacuna_core::{Attributes, BoxXyxy, Geometry, ReviewState, Rle};
use serde_json::Value;

use crate::FrozenAnnotation;

fn push_str(out: &mut String, s: &str) {
    // serde_json's string escaping, without building a Value.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn push_f64(out: &mut String, v: f64) {
    if v.is_finite() {
        // ryu: the shortest text that reads back to the same f64, several times faster than
        // `Display` (a million boxes are four million numbers).
        out.push_str(ryu::Buffer::new().format_finite(v));
    } else {
        out.push('0');
    }
}

/// The content part of an annotation: `[class,geometry,flags,[tags]]` as text.
pub fn content_text(class: &str, geometry: &Geometry, attributes: &Attributes) -> String {
    let mut out = String::with_capacity(64);
    out.push('[');
    push_str(&mut out, class);
    out.push(',');
    match geometry {
        Geometry::Box(b) => {
            out.push('[');
            push_f64(&mut out, b.x0);
            out.push(',');
            push_f64(&mut out, b.y0);
            out.push(',');
            push_f64(&mut out, b.x1);
            out.push(',');
            push_f64(&mut out, b.y1);
            out.push(']');
        }
        Geometry::Polygon { parts } => {
            out.push_str("{\"p\":[");
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('[');
                for (j, [x, y]) in part.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    push_f64(&mut out, *x);
                    out.push(',');
                    push_f64(&mut out, *y);
                }
                out.push(']');
            }
            out.push_str("]}");
        }
        Geometry::Mask(rle) => {
            let _ = write!(out, "{{\"m\":[{},{},", rle.height_px, rle.width_px);
            push_str(&mut out, &rle.to_coco_string());
            out.push_str("]}");
        }
    }
    let flags = u8::from(attributes.occluded)
        | (u8::from(attributes.truncated) << 1)
        | (u8::from(attributes.crowd) << 2);
    let _ = write!(out, ",{flags},[");
    for (i, t) in attributes.tags.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(&mut out, t);
    }
    out.push_str("]]");
    out
}

/// One annotation as stored: its content text with the provenance appended.
pub fn annotation_text(content: &str, a: &FrozenAnnotation) -> String {
    let mut out = String::with_capacity(content.len() + 48);
    // Re-open the content array to append the provenance element.
    out.push_str(&content[..content.len() - 1]);
    out.push_str(",[");
    push_str(&mut out, &a.source);
    out.push(',');
    match a.run {
        Some(r) => {
            let _ = write!(out, "{r}");
        }
        None => out.push_str("null"),
    }
    out.push(',');
    match a.score {
        Some(s) => push_f64(&mut out, s),
        None => out.push_str("null"),
    }
    out.push(',');
    push_str(&mut out, &a.author);
    out.push(',');
    push_str(&mut out, a.review_state.as_str());
    out.push(',');
    match &a.reviewer {
        Some(r) => push_str(&mut out, r),
        None => out.push_str("null"),
    }
    out.push_str("]]");
    out
}

/// Puts annotations in canonical order (by content text) and returns, in that order, each one's
/// content text — what the version hash covers.
pub fn canonical_contents(annotations: &mut Vec<FrozenAnnotation>) -> Vec<String> {
    let mut keyed: Vec<(String, FrozenAnnotation)> =
        annotations.drain(..).map(|a| (content_text(&a.class, &a.geometry, &a.attributes), a)).collect();
    keyed.sort_by(|x, y| x.0.cmp(&y.0));
    let mut contents = Vec::with_capacity(keyed.len());
    for (c, a) in keyed {
        contents.push(c);
        annotations.push(a);
    }
    contents
}

/// The stored text of an image's annotations (already in canonical order, with their content
/// texts from [`canonical_contents`]).
pub fn encode(annotations: &[FrozenAnnotation], contents: &[String]) -> String {
    let mut out = String::with_capacity(contents.iter().map(|c| c.len() + 48).sum::<usize>() + 2);
    out.push('[');
    for (i, (a, c)) in annotations.iter().zip(contents).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&annotation_text(c, a));
    }
    out.push(']');
    out
}

fn bad(what: &str) -> String {
    format!("stored annotations: {what}")
}

fn num(v: &Value, what: &str) -> Result<f64, String> {
    v.as_f64().ok_or_else(|| bad(&format!("{what} is not a number")))
}

fn opt_str(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

/// Reads the stored text back.
pub fn decode(text: &str) -> Result<Vec<FrozenAnnotation>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
    let items = value.as_array().ok_or_else(|| bad("not an array"))?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let a = item.as_array().ok_or_else(|| bad("an annotation is not an array"))?;
        if a.len() != 5 {
            return Err(bad(&format!("an annotation has {} elements, not 5", a.len())));
        }
        let class = a[0].as_str().ok_or_else(|| bad("class is not a string"))?.to_string();
        let geometry = match &a[1] {
            Value::Array(c) if c.len() == 4 => Geometry::Box(BoxXyxy {
                x0: num(&c[0], "x0")?,
                y0: num(&c[1], "y0")?,
                x1: num(&c[2], "x1")?,
                y1: num(&c[3], "y1")?,
            }),
            Value::Object(o) if o.contains_key("p") => {
                let parts = o["p"].as_array().ok_or_else(|| bad("polygon parts"))?;
                let mut out_parts = Vec::with_capacity(parts.len());
                for p in parts {
                    let flat = p.as_array().ok_or_else(|| bad("polygon part"))?;
                    let mut pts = Vec::with_capacity(flat.len() / 2);
                    for xy in flat.chunks_exact(2) {
                        pts.push([num(&xy[0], "x")?, num(&xy[1], "y")?]);
                    }
                    out_parts.push(pts);
                }
                Geometry::Polygon { parts: out_parts }
            }
            Value::Object(o) if o.contains_key("m") => {
                let m = o["m"].as_array().filter(|m| m.len() == 3).ok_or_else(|| bad("mask"))?;
                let h = m[0].as_u64().ok_or_else(|| bad("mask height"))? as u32;
                let w = m[1].as_u64().ok_or_else(|| bad("mask width"))? as u32;
                let counts = m[2].as_str().ok_or_else(|| bad("mask counts"))?;
                Geometry::Mask(Rle::from_coco_string(h, w, counts).map_err(|e| bad(&e.to_string()))?)
            }
            _ => return Err(bad("unknown geometry")),
        };
        let flags = a[2].as_u64().ok_or_else(|| bad("flags"))?;
        let tags = a[3]
            .as_array()
            .ok_or_else(|| bad("tags"))?
            .iter()
            .map(|t| t.as_str().map(str::to_string).ok_or_else(|| bad("tag")))
            .collect::<Result<Vec<_>, _>>()?;
        let prov = a[4].as_array().filter(|p| p.len() == 6).ok_or_else(|| bad("provenance"))?;
        let review = prov[4].as_str().and_then(ReviewState::parse).ok_or_else(|| bad("review state"))?;
        out.push(FrozenAnnotation {
            class,
            geometry,
            attributes: Attributes {
                occluded: flags & 1 != 0,
                truncated: flags & 2 != 0,
                crowd: flags & 4 != 0,
                tags,
            },
            source: opt_str(prov.first()).ok_or_else(|| bad("source"))?,
            run: prov[1].as_i64(),
            score: prov[2].as_f64(),
            author: opt_str(prov.get(3)).unwrap_or_default(),
            review_state: review,
            reviewer: opt_str(prov.get(5)),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use lacuna_core::BinaryMask;

    use super::*;

    fn ann(geometry: Geometry, attributes: Attributes) -> FrozenAnnotation {
        FrozenAnnotation {
            class: "traffic \"light\"".into(),
            geometry,
            attributes,
            source: "model".into(),
            run: Some(3),
            score: Some(0.4375),
            author: "ann".into(),
            review_state: ReviewState::Corrected,
            reviewer: Some("bob".into()),
        }
    }

    #[test]
    fn encode_then_decode_is_exact() {
        let mut m = BinaryMask::new(7, 5);
        m.set(2, 3, true);
        m.set(3, 3, true);
        let mut anns = vec![
            ann(Geometry::Box(BoxXyxy { x0: 0.1, y0: 1.0 / 3.0, x1: 12.0, y1: 1e-7 }), Attributes::default()),
            ann(
                Geometry::Polygon {
                    parts: vec![
                        vec![[1.5, 2.0], [3.0, 4.25], [0.0, 9.0]],
                        vec![[5.0, 5.0], [6.0, 5.0], [6.0, 6.0]],
                    ],
                },
                Attributes {
                    occluded: true,
                    truncated: false,
                    crowd: true,
                    tags: vec!["a,b".into(), "c".into()],
                },
            ),
            FrozenAnnotation {
                run: None,
                score: None,
                reviewer: None,
                source: "human".into(),
                ..ann(Geometry::Mask(Rle::from_mask(&m)), Attributes::default())
            },
        ];
        let contents = canonical_contents(&mut anns);
        let text = encode(&anns, &contents);
        assert_eq!(decode(&text).expect("decodes"), anns);
        // Canonical order depends on content only.
        let mut reversed: Vec<FrozenAnnotation> = anns.iter().rev().cloned().collect();
        assert_eq!(canonical_contents(&mut reversed), contents);
        assert!(decode("[[1]]").expect_err("short").contains("not 5"));
    }
}
