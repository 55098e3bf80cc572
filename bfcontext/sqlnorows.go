package bfcontext

import "database/sql"

var sqlNoRows = sql.ErrNoRows
