//! Training from notebook cells: what evcxr's way of running code needs,
//! in one place.
//!
//! evcxr compiles each notebook cell on its own and links it with its own
//! copy of this crate and of candle, statics included. candle numbers its
//! tensors with such a static, so tensors made in one cell can carry the ids
//! of tensors made in another, and the gradients of a backward pass, kept by
//! id, would mix them up. So before a step the trainer checks which copy of
//! the code runs it; where that is not the copy that made the model's
//! variables (the training cell is not the cell that built the model), the
//! model gets the same values in brand-new variables, made here, and the
//! optimizer follows them. In a program (one copy of the code) this never
//! happens: the trainer trains the very model it was given.
//!
//! tests/data/across-cells.ipynb trains across cells and in one cell and
//! checks that both end with the same filters, bit for bit.

use super::Trainer;
use crate::error::Result;
use crate::model::this_copy;

impl Trainer {
    /// Gives the model brand-new variables, made by this copy of the code,
    /// where another copy made them (see the module docs).
    pub(super) fn follow_notebook_cell(&mut self) -> Result<()> {
        if self.model.made_by() != this_copy() {
            self.model = self.model.copy()?;
            self.optimizer = self.optimizer.rebind(self.model.vars())?;
        }
        Ok(())
    }
}
