from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from service.api.deps import ReadSessionDep, SessionDep, SessionRoute
from service.db import catalog
from service.schemas import (
    CategoryCreate,
    CategoryPublic,
    ProductCreate,
    ProductPublic,
    ProductsPublic,
    TopProductPublic,
    TopProductsPublic,
)
from service.schemas.common import BIGINT_MAX

router = APIRouter(tags=["catalog"], route_class=SessionRoute)


@router.post("/categories", status_code=status.HTTP_201_CREATED)
def create_category(session: SessionDep, category_in: CategoryCreate) -> CategoryPublic:
    """Create a category. 409 when the name is taken. 1 query."""
    category = catalog.create_category(session=session, category_in=category_in)
    return CategoryPublic.model_validate(category)


@router.post("/products", status_code=status.HTTP_201_CREATED)
def create_product(session: SessionDep, product_in: ProductCreate) -> ProductPublic:
    """Create a product. 404 for an unknown category, 409 when the SKU is taken. 1 query."""
    product = catalog.create_product(session=session, product_in=product_in)
    return ProductPublic.model_validate(product)


@router.get("/products")
def list_products(
    session: ReadSessionDep,
    category_id: Annotated[int | None, Query(gt=0, le=BIGINT_MAX)] = None,
    after: Annotated[
        int | None, Query(ge=0, le=BIGINT_MAX, description="the next_after of the last page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ProductsPublic:
    """Products by id, optionally of one category; keyset pagination. 1 query."""
    products, next_after = catalog.list_products(
        session=session, category_id=category_id, after=after, limit=limit
    )
    return ProductsPublic(
        data=[ProductPublic.model_validate(p) for p in products], next_after=next_after
    )


@router.get("/products/top")
def top_products(
    session: ReadSessionDep,
    days: Annotated[int, Query(ge=1, le=catalog.SALES_WINDOW_DAYS)] = 7,
    limit: Annotated[int, Query(ge=1, le=catalog.TOP_PRODUCTS_LIMIT)] = 10,
) -> TopProductsPublic:
    """Best sellers of the last days, from the top_products_by_window view. 1 query."""
    rows = catalog.top_products(session=session, days=days, limit=limit)
    return TopProductsPublic(
        days=days, data=[TopProductPublic.model_validate(row._mapping) for row in rows]
    )
