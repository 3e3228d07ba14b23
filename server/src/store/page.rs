//! One page of a list: how every list in the store counts and slices its rows.

use super::query::ListSpec;

/// Which slice of a list to load: `offset` rows skipped, at most `limit` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: i64,
    pub limit: i64,
}

/// A list request: which rows (`spec.filter`), in which order (`spec.order`), which slice.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub spec: ListSpec,
    pub page: Page,
}

/// The rows of one page and how many rows match in all.
#[derive(Debug)]
pub struct Paged<T> {
    pub rows: Vec<T>,
    pub total: i64,
}

impl<T> Paged<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            rows: self.rows.into_iter().map(f).collect(),
            total: self.total,
        }
    }
}

/// Counts the rows of `$query` that match `$list.spec.filter` and loads one page of them in
/// `$list.spec.order`: `Paged<T>` from a Diesel query expression (written once, evaluated twice, so
/// it may be a plain builder chain). `$query => $selection` loads the page with that `select`
/// (the count needs none). Diesel's query types differ per table and selection, hence a macro rather
/// than a generic function.
macro_rules! paginate {
    ($conn:expr, $query:expr, $list:expr) => {
        $crate::store::page::paginate!(@page $conn, $query, $list,)
    };
    ($conn:expr, $query:expr => $selection:expr, $list:expr) => {
        $crate::store::page::paginate!(@page $conn, $query, $list, .select($selection))
    };
    (@page $conn:expr, $query:expr, $list:expr, $($select:tt)*) => {{
        use diesel::prelude::*;
        let list: &$crate::store::page::ListQuery = &$list;
        let total: i64 = $query.filter(list.spec.filter.clone()).count().get_result($conn)?;
        let rows = $query
            .filter(list.spec.filter.clone())
            .order_by(list.spec.order.clone())
            .offset(list.page.offset)
            .limit(list.page.limit)
            $($select)*
            .load($conn)?;
        $crate::store::page::Paged { rows, total }
    }};
}
pub(crate) use paginate;
